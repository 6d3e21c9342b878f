# Per-block timing of a traced kernel site from a KILN_TRACE csv (site,sm,block,start_ns,waited_ns,end_ns):
# for launches 1 and 5 of the site (blocks sorted by entry, `per` blocks a launch), the spread of
# each block's run (exit - release from griddepcontrol.wait), of exits and releases after the
# launch's first release, and of entry-to-release. Usage (on the device machine):
#   KILN_TRACE=/tmp/t.csv KILN_TRACE_STEP=100 kiln bench static ... ; python3 scripts/trace_blocks.py /tmp/t.csv attention_decode_input 256
import sys, statistics as st
path, site, per = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [[0] + list(map(int, l.split(',')[1:])) for l in open(path).read().split('\n')[1:] if l and l.split(',')[0] == site]
rows.sort(key=lambda r: r[3])
for launch in (1, 5):
    g = rows[launch * per:(launch + 1) * per]
    if not g: break
    t0 = min(r[4] for r in g)
    run = sorted((r[5] - r[4]) / 1000 for r in g)
    ends = sorted((r[5] - t0) / 1000 for r in g)
    waits = sorted((r[4] - r[3]) / 1000 for r in g)
    q = lambda xs, p: xs[min(len(xs) - 1, int(p * len(xs)))]
    print(f"site {site} launch {launch}: {len(g)} blocks on {len(set(r[1] for r in g))} SMs; run (exit - release) us p10 {q(run,.1):.2f} p50 {q(run,.5):.2f} p90 {q(run,.9):.2f} max {run[-1]:.2f}; "
          f"exit after first release p10 {q(ends,.1):.2f} p50 {q(ends,.5):.2f} p90 {q(ends,.9):.2f} max {ends[-1]:.2f}; entry->release p50 {q(waits,.5):.2f} max {waits[-1]:.2f}")
    rel = sorted((r[4] - t0) / 1000 for r in g)
    print(f"   release after first release p10 {q(rel,.1):.2f} p50 {q(rel,.5):.2f} p90 {q(rel,.9):.2f} max {rel[-1]:.2f}")
