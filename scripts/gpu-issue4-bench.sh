#!/usr/bin/env bash
# Issue 4's GPU run, on the device machine from the repo root, with the release binary carried in
# .gpu/kiln.xz: kiln check gpu (kernels, backend ops, tiny models), then Gemma-2B-shape benchmarks
# (random bf16 weights) of Kiln and of the transformers peer in the same call. Logs go to $OUT;
# a short table is printed last. Usage: scripts/gpu-issue4-bench.sh [check|kiln|peer|all]...
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
BIN=/tmp/kiln-bin/kiln
if [ ! -x "$BIN" ] || [ .gpu/kiln.xz -nt "$BIN" ]; then mkdir -p /tmp/kiln-bin && xz -dc .gpu/kiln.xz > "$BIN" && chmod +x "$BIN"; fi
export KILN_CACHE=${KILN_CACHE:-/tmp/kiln-cache}
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader | tee "$OUT/card.txt"
echo "commit $(cat .gpu/commit 2>/dev/null)" | tee -a "$OUT/card.txt"
steps=${*:-all}
want() { [[ " $steps " == *" $1 "* || " $steps " == *" all "* ]]; }
summary=()

if want check; then
  "$BIN" check gpu --models Tests/KilnModelsTests/Fixtures/{llama,qwen2,gemma,gemma2,gemma3} > "$OUT/check-gpu.txt" 2>&1
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

if want peer; then
  PYTHONUNBUFFERED=1 OUT="$OUT" timeout 420 python3 bench/peer_transformers.py > "$OUT/peer.txt" 2>&1
  summary+=("peer: $(grep -E '^(floors|decode|prefill|static)' "$OUT/peer.txt" | tr '\n' ';')")
fi

printf '%s\n' "${summary[@]}"
