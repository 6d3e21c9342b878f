#!/usr/bin/env bash
# Issue 4's GPU run, on the device machine from the repo root, with the release binary carried in
# .gpu/kiln.xz: kiln check gpu (kernels, backend ops, tiny models), then Gemma-2B-shape benchmarks
# (random bf16 weights) of Kiln and of the transformers peer in the same call. Logs go to $OUT;
# a short table is printed last. Usage: scripts/gpu-issue4-bench.sh [check|kiln|startup|memory|peer|all]...
# Budget: on a cold machine `check` alone took 495 s (session 13: 48 s of NVRTC compiles, 1,020
# checks), so `all` passes the device's 600 s call limit there: run `check` in a call of its own.
# A call returns at most 8 files of $OUT; the table printed last is the record to keep.
set -u
source scripts/gpu-common.sh
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader | tee "$OUT/card.txt"
echo "commit $(cat .gpu/commit 2>/dev/null)" | tee -a "$OUT/card.txt"
steps=${*:-all}
want() { [[ " $steps " == *" $1 "* || " $steps " == *" all "* ]]; }
summary=()

# A real model staged in /tmp by earlier calls (scripts/gpu-stage.sh), checked by sha256.
SMOL=/tmp/stage/smollm2-135m-instruct-q4_1.gguf
if [ -f "$SMOL" ] && ! echo "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  $SMOL" | sha256sum -c --quiet; then
  echo "staged SmolLM2 damaged: skipped"; SMOL=
fi
[ -f "${SMOL:-/nonexistent}" ] || SMOL=

if want check; then
  "$BIN" check gpu --models Tests/KilnModelsTests/Fixtures/{llama,qwen2,gemma,gemma2,gemma3} $SMOL > "$OUT/check-gpu.txt" 2>&1
  grep -E "^FAIL|FAIL " "$OUT/check-gpu.txt" | head -20
  summary+=("check gpu: $(tail -1 "$OUT/check-gpu.txt")")
fi

if want kiln; then
  G="--random-weights gemma-2b --backend cuda"
  "$BIN" bench latency $G --input 128 --output 256 --runs 5 > "$OUT/kiln-decode.txt" 2>&1
  KILN_CUDA_GRAPHS=0 "$BIN" bench latency $G --input 128 --output 256 --runs 3 > "$OUT/kiln-decode-nographs.txt" 2>&1
  "$BIN" bench latency $G --input 2048 --output 2 --runs 5 > "$OUT/kiln-prefill.txt" 2>&1
  "$BIN" bench static $G --batch 64 --input 128 --output 128 > "$OUT/kiln-static64.txt" 2>&1
  summary+=("kiln decode b1 128+256:  $(grep -h decode "$OUT/kiln-decode.txt")  (first token $(grep -h 'first token' "$OUT/kiln-decode.txt" | sed 's/first token *//'))")
  summary+=("kiln decode, no graphs:  $(grep -h decode "$OUT/kiln-decode-nographs.txt")")
  summary+=("kiln prefill 2048:       $(grep -h 'first token' "$OUT/kiln-prefill.txt")")
  summary+=("kiln static 64 128/128:  $(grep -h throughput "$OUT/kiln-static64.txt")")
  for f in kiln-decode kiln-prefill kiln-static64; do grep -qi error "$OUT/$f.txt" && { echo "== $f"; tail -5 "$OUT/$f.txt"; }; done
fi

if want startup; then
  # Process start to first token (--max-tokens 1: the process ends right after printing it).
  wall() { local t0=$(date +%s.%N); "$@" > "$OUT/startup-last.txt" 2>&1; local t1=$(date +%s.%N); python3 -c "print(round($t1 - $t0, 3))"; }
  if [ -n "$SMOL" ]; then
    "$BIN" build "$SMOL" -o /tmp/engine-smollm2 --overwrite --max-num-tokens 512 > "$OUT/build-smollm2.txt" 2>&1
    cold=$(KILN_CACHE=/tmp/kiln-cold-$$ wall "$BIN" generate /tmp/engine-smollm2 "The capital of France is" --max-tokens 1 --temperature 0 --backend cuda)
    warm=$(wall "$BIN" generate /tmp/engine-smollm2 "The capital of France is" --max-tokens 1 --temperature 0 --backend cuda)
    warm2=$(wall "$BIN" generate /tmp/engine-smollm2 "The capital of France is" --max-tokens 1 --temperature 0 --backend cuda --json)
    cp "$OUT/startup-last.txt" "$OUT/startup-smollm2-json.txt"
    summary+=("startup SmolLM2 engine to first token (wall of --max-tokens 1): empty kernel and autotune caches ${cold} s; kernels cached ${warm} s; both cached ${warm2} s")
    for backend in cuda cpu; do
      "$BIN" generate /tmp/engine-smollm2 "The capital of France is" --max-tokens 32 --temperature 0 --ignore-eos --backend $backend --json > "$OUT/smollm2-$backend.json" 2>&1
    done
    "$BIN" generate /tmp/engine-smollm2 "Write one sentence about the sea." --chat --max-tokens 40 --temperature 0.8 --top-p 0.95 --seed 1 \
      --backend cuda > "$OUT/smollm2-sampled.txt" 2>&1
    summary+=("SmolLM2 sampled on the GPU (T 0.8, top-p 0.95, seed 1): $(head -c 160 "$OUT/smollm2-sampled.txt" | tr '\n' ' ')")
    summary+=("SmolLM2 bf16 cuda vs cpu greedy ids: $(python3 -c "
import json; a=json.load(open('$OUT/smollm2-cuda.json'))['output_ids']; b=json.load(open('$OUT/smollm2-cpu.json'))['output_ids']
n=next((i for i,(x,y) in enumerate(zip(a,b)) if x!=y), min(len(a),len(b))); print(f'{n} of {len(b)} identical')" 2>&1)")
  fi
  # Gemma-2B shape: an engine of random bf16 weights (no tokenizer: the prompt is 128 random ids).
  b=$(wall "$BIN" build --random-weights gemma-2b -o /tmp/engine-gemma2b --overwrite --max-num-tokens 2048)
  cp "$OUT/startup-last.txt" "$OUT/build-gemma2b.txt"
  g1=$(wall "$BIN" generate /tmp/engine-gemma2b --prompt-length 128 --max-tokens 1 --temperature 0 --backend cuda --json)
  cp "$OUT/startup-last.txt" "$OUT/startup-gemma2b-1.json"
  g2=$(wall "$BIN" generate /tmp/engine-gemma2b --prompt-length 128 --max-tokens 1 --temperature 0 --backend cuda --json)
  cp "$OUT/startup-last.txt" "$OUT/startup-gemma2b-2.json"
  gc=$(KILN_CACHE=/tmp/kiln-cold2-$$ wall "$BIN" generate /tmp/engine-gemma2b --prompt-length 128 --max-tokens 1 --temperature 0 --backend cuda --json)
  summary+=("gemma-2b random engine: build ${b} s; generate ENGINE to first token (wall, --max-tokens 1): ${g1} s, again ${g2} s; with empty kernel cache ${gc} s")
fi

if want memory; then
  # The card's read ceiling (kiln bench memory, 1000 MiB: Gemma-2B's LM head), for the decode floor.
  "$BIN" bench memory --sizes 1000 --top 3 > "$OUT/bench-memory.txt" 2>&1
  summary+=("read ceiling: $(grep -m1 '  read' "$OUT/bench-memory.txt" | awk '{$1=$1};1'); $(grep -m1 'driver copy' "$OUT/bench-memory.txt" | sed 's/.*driver copy/driver copy/')")
fi

if want peer; then
  PYTHONUNBUFFERED=1 OUT="$OUT" timeout 420 python3 bench/peer_transformers.py > "$OUT/peer.txt" 2>&1
  summary+=("peer: $(grep -E '^(floors|decode|prefill|static)' "$OUT/peer.txt" | tr '\n' ';')")
fi

printf '%s\n' "${summary[@]}"
