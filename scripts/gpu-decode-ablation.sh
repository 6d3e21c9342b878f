#!/usr/bin/env bash
# Where a batch-1 decode step's time goes inside the real step (CUDA graphs, programmatic launch):
# Gemma-2B shape, random bf16 weights, timed with each op class left out in turn
# (KILN_PROFILE_SKIP, profiling only: the tokens are wrong). The difference to the full run is
# what that class costs. On the device machine from the repo root; binary in .gpu/kiln.xz.
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
BIN=/tmp/kiln-bin/kiln
if [ ! -x "$BIN" ] || [ .gpu/kiln.xz -nt "$BIN" ]; then mkdir -p /tmp/kiln-bin && xz -dc .gpu/kiln.xz > "$BIN" && chmod +x "$BIN"; fi
export KILN_CACHE=${KILN_CACHE:-/tmp/kiln-cache}
G="--random-weights gemma-2b --backend cuda --input 128 --output 256 --runs 3"
rows=()
for skip in none norm attention attention-input small-gemv medium-gemv gate-up large-gemv "norm,attention,attention-input"; do
  KILN_PROFILE_SKIP=$([ "$skip" = none ] || echo "$skip") "$BIN" bench latency $G > "$OUT/ablate-$skip.txt" 2>&1
  rows+=("$(printf '%-32s %s' "$skip" "$(grep -h 'decode' "$OUT/ablate-$skip.txt" | head -1)")")
done
printf '%s\n' "${rows[@]}" | tee "$OUT/ablation.txt"
