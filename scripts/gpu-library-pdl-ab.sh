#!/usr/bin/env bash
# Programmatic edges into cuBLASLt's kernels in recorded steps (KILN_LIBRARY_PDL=1,
# LibraryProgrammaticEdges.swift), on the device machine with .gpu/kiln.xz: the model checks
# (the batched decode check replays graphs whose cuBLASLt kernels start early; SmolLM2 when staged
# by scripts/gpu-stage.sh), then static batch 64 alternating off / on on one kernel cache, then a
# static-64 kernel trace with it on. Prints as it goes (do not pipe through tail).
set -u
source scripts/gpu-common.sh
SMOL=/tmp/stage/smollm2-135m-instruct-q4_1.gguf; [ -f "$SMOL" ] || SMOL=
for setting in 1 0; do
  KILN_CACHE=/tmp/kc-check-$setting KILN_LIBRARY_PDL=$setting KILN_GRAPH_LOG=1 timeout 240 "$BIN" check gpu --only "rmsNorm" \
    --models Tests/KilnModelsTests/Fixtures/{llama,gemma} $SMOL > "$OUT/check-library-pdl-$setting.txt" 2>&1
  echo "KILN_LIBRARY_PDL=$setting checks: $(tail -1 "$OUT/check-library-pdl-$setting.txt")"
  grep -E "^FAIL|batched" "$OUT/check-library-pdl-$setting.txt" | cut -c1-220 | head -6
  grep -E "^graph:" "$OUT/check-library-pdl-$setting.txt" | sort | uniq -c | cut -c1-300 | head -3
done
# One kernel cache a side: the autotuner's choices differ with the switch (listed kernels preferred).
KILN_CACHE=/tmp/kc-log KILN_GRAPH_LOG=1 KILN_LIBRARY_PDL=1 timeout 90 "$BIN" bench static --random-weights gemma-2b --backend cuda \
  --batch 64 --input 128 --output 16 > "$OUT/static-log.txt" 2>&1
grep -E "^matmul|^graph:" "$OUT/static-log.txt" | sort | uniq -c | cut -c1-330 | head -12
off="KILN_LIBRARY_PDL=0 KILN_CACHE=/tmp/kc-off"; on="KILN_LIBRARY_PDL=1 KILN_CACHE=/tmp/kc-on"
OUT=$OUT/s64 STATIC_BATCH=64 timeout 200 scripts/gpu-decode-variants.sh "$off" "$on" "$off" "$on"
OUT=$OUT/trace STATIC_BATCH=64 timeout 120 scripts/gpu-trace.sh KILN_LIBRARY_PDL=1 KILN_CACHE=/tmp/kc-on | tail -12
