#!/usr/bin/env bash
# Issue 4's GPU run, on the device machine from the repo root, with the release binary carried in
# .gpu/kiln.xz: kiln check gpu (kernels, backend ops, tiny models), then Gemma-2B-shape benchmarks
# (random bf16 weights) of Kiln and of the transformers peer in the same call. Logs go to $OUT;
# a short table is printed last. Usage: scripts/gpu-issue4-bench.sh [quick|check|kiln|startup|memory|peer|all]...
# (`all` runs every step but `quick`.)
# Budget: on a cold machine `check` alone took 495 s (session 13: 48 s of NVRTC compiles, 1,020
# checks), so `all` passes the device's 600 s call limit there: run `check` in a call of its own.
# Do not pipe the call's output through `tail`: a call cut off by its limit then prints nothing.
set -u
source scripts/gpu-common.sh
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader | tee "$OUT/card.txt"
echo "commit $(cat .gpu/commit 2>/dev/null)" | tee -a "$OUT/card.txt"
steps=${*:-all}
want() { [[ " $steps " == *" $1 "* || " $steps " == *" all "* ]]; }
# Logs go to $OUT/logs, packed into $OUT/logs.tgz after every step, and each table line is printed
# and appended to $OUT/summary.txt as it is made: a call returns at most 8 files, and one cut off by
# its time limit still returns what the finished steps measured.
L="$OUT/logs"; mkdir -p "$L"; : > "$OUT/summary.txt"
note() { echo "$1"; echo "$1" >> "$OUT/summary.txt"; }
pack() { tar czf "$OUT/logs.tgz.part" -C "$L" . && mv "$OUT/logs.tgz.part" "$OUT/logs.tgz"; }

# A real model staged in /tmp by earlier calls (scripts/gpu-stage.sh), checked by sha256.
SMOL=/tmp/stage/smollm2-135m-instruct-q4_1.gguf
if [ -f "$SMOL" ] && ! echo "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  $SMOL" | sha256sum -c --quiet; then
  echo "staged SmolLM2 damaged: skipped"; SMOL=
fi
[ -f "${SMOL:-/nonexistent}" ] || SMOL=

if [[ " $steps " == *" quick "* ]]; then
  # Every kernel on fewer shapes, and the models: ~50 s on a warm machine (session 14: 321 checks
  # with the five fixtures), for a session whose device time cannot hold the full check.
  "$BIN" check gpu --quick --models Tests/KilnModelsTests/Fixtures/{llama,qwen2,gemma,gemma2,gemma3} $SMOL > "$L/check-gpu-quick.txt" 2>&1
  grep -E "^FAIL|FAIL " "$L/check-gpu-quick.txt" | head -20
  note "check gpu --quick: $(tail -1 "$L/check-gpu-quick.txt")"
  pack
fi

if want check; then
  "$BIN" check gpu --models Tests/KilnModelsTests/Fixtures/{llama,qwen2,gemma,gemma2,gemma3} $SMOL > "$L/check-gpu.txt" 2>&1
  grep -E "^FAIL|FAIL " "$L/check-gpu.txt" | head -20
  note "check gpu: $(tail -1 "$L/check-gpu.txt")"
  pack
fi

if want kiln; then
  G="--random-weights gemma-2b --backend cuda"
  "$BIN" bench latency $G --input 128 --output 256 --runs 5 > "$L/kiln-decode.txt" 2>&1
  KILN_CUDA_GRAPHS=0 "$BIN" bench latency $G --input 128 --output 256 --runs 3 > "$L/kiln-decode-nographs.txt" 2>&1
  "$BIN" bench latency $G --input 2048 --output 2 --runs 5 > "$L/kiln-prefill.txt" 2>&1
  "$BIN" bench static $G --batch 64 --input 128 --output 128 > "$L/kiln-static64.txt" 2>&1
  note "kiln decode b1 128+256:  $(grep -h decode "$L/kiln-decode.txt")  (first token $(grep -h 'first token' "$L/kiln-decode.txt" | sed 's/first token *//'))"
  note "kiln decode, no graphs:  $(grep -h decode "$L/kiln-decode-nographs.txt")"
  note "kiln prefill 2048:       $(grep -h 'first token' "$L/kiln-prefill.txt")"
  note "kiln static 64 128/128:  $(grep -h throughput "$L/kiln-static64.txt")"
  for f in kiln-decode kiln-prefill kiln-static64; do grep -qi error "$L/$f.txt" && { echo "== $f"; tail -5 "$L/$f.txt"; }; done
  pack
fi

if want startup; then
  # Process start to first token (--max-tokens 1: the process ends right after printing it).
  wall() { local t0=$(date +%s.%N); "$@" > "$L/startup-last.txt" 2>&1; local t1=$(date +%s.%N); python3 -c "print(round($t1 - $t0, 3))"; }
  if [ -n "$SMOL" ]; then
    "$BIN" build "$SMOL" -o /tmp/engine-smollm2 --overwrite --max-num-tokens 512 > "$L/build-smollm2.txt" 2>&1
    cold=$(KILN_CACHE=/tmp/kiln-cold-$$ wall "$BIN" generate /tmp/engine-smollm2 "The capital of France is" --max-tokens 1 --temperature 0 --backend cuda)
    warm=$(wall "$BIN" generate /tmp/engine-smollm2 "The capital of France is" --max-tokens 1 --temperature 0 --backend cuda)
    warm2=$(wall "$BIN" generate /tmp/engine-smollm2 "The capital of France is" --max-tokens 1 --temperature 0 --backend cuda --json)
    cp "$L/startup-last.txt" "$L/startup-smollm2-json.txt"
    note "startup SmolLM2 engine to first token (wall of --max-tokens 1): empty kernel and autotune caches ${cold} s; kernels cached ${warm} s; both cached ${warm2} s"
    for backend in cuda cpu; do
      "$BIN" generate /tmp/engine-smollm2 "The capital of France is" --max-tokens 32 --temperature 0 --ignore-eos --backend $backend --json > "$L/smollm2-$backend.json" 2>&1
    done
    "$BIN" generate /tmp/engine-smollm2 "Write one sentence about the sea." --chat --max-tokens 40 --temperature 0.8 --top-p 0.95 --seed 1 \
      --backend cuda > "$L/smollm2-sampled.txt" 2>&1
    note "SmolLM2 sampled on the GPU (T 0.8, top-p 0.95, seed 1): $(head -c 160 "$L/smollm2-sampled.txt" | tr '\n' ' ')"
    note "SmolLM2 bf16 cuda vs cpu greedy ids: $(python3 -c "
import json; a=json.load(open('$L/smollm2-cuda.json'))['output_ids']; b=json.load(open('$L/smollm2-cpu.json'))['output_ids']
n=next((i for i,(x,y) in enumerate(zip(a,b)) if x!=y), min(len(a),len(b))); print(f'{n} of {len(b)} identical')" 2>&1)"
  fi
  # Gemma-2B shape: an engine of random bf16 weights (no tokenizer: the prompt is 128 random ids).
  b=$(wall "$BIN" build --random-weights gemma-2b -o /tmp/engine-gemma2b --overwrite --max-num-tokens 2048)
  cp "$L/startup-last.txt" "$L/build-gemma2b.txt"
  g1=$(wall "$BIN" generate /tmp/engine-gemma2b --prompt-length 128 --max-tokens 1 --temperature 0 --backend cuda --json)
  cp "$L/startup-last.txt" "$L/startup-gemma2b-1.json"
  g2=$(wall "$BIN" generate /tmp/engine-gemma2b --prompt-length 128 --max-tokens 1 --temperature 0 --backend cuda --json)
  cp "$L/startup-last.txt" "$L/startup-gemma2b-2.json"
  gc=$(KILN_CACHE=/tmp/kiln-cold2-$$ wall "$BIN" generate /tmp/engine-gemma2b --prompt-length 128 --max-tokens 1 --temperature 0 --backend cuda --json)
  note "gemma-2b random engine: build ${b} s; generate ENGINE to first token (wall, --max-tokens 1): ${g1} s, again ${g2} s; with empty kernel cache ${gc} s"
  pack
fi

if want memory; then
  # The card's read ceiling (kiln bench memory, 1000 MiB: Gemma-2B's LM head), for the decode floor.
  "$BIN" bench memory --sizes 1000 --top 3 > "$L/bench-memory.txt" 2>&1
  note "read ceiling: $(grep -m1 '  read' "$L/bench-memory.txt" | awk '{$1=$1};1'); $(grep -m1 'driver copy' "$L/bench-memory.txt" | sed 's/.*driver copy/driver copy/')"
  pack
fi

if want peer; then
  PYTHONUNBUFFERED=1 OUT="$L" timeout 420 python3 bench/peer_transformers.py > "$L/peer.txt" 2>&1
  note "peer: $(grep -E '^(floors|decode|prefill|static)' "$L/peer.txt" | tr '\n' ';')"
  pack
fi

echo "== summary"; cat "$OUT/summary.txt"
