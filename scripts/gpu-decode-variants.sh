#!/usr/bin/env bash
# Batch-1 decode of the Gemma-2B shape (random bf16 weights) under environment variants, for
# A/B comparisons in one call on one card: each argument is a space-separated list of VAR=value
# (or "base"); KILN_BIN=PATH in a variant runs another binary (e.g. one unpacked from
# .gpu/kiln-base.xz, for before/after in one call). Prints one line per variant. On the device
# machine; binary in .gpu/kiln.xz.
# STATIC_BATCH=B: a static batch of B sequences, 128 in / 128 out, output tokens/s instead, e.g.
#   STATIC_BATCH=64 scripts/gpu-decode-variants.sh base KILN_KERNEL_DEFINES=KILN_ATTENTION_3_BLOCKS \
#     KILN_KERNEL_DEFINES=KILN_SKINNY_NO_L2_256B KILN_SKINNY_GEMM=0 base
set -u
source scripts/gpu-common.sh
if [ -n "${STATIC_BATCH:-}" ]; then
  G="static --random-weights gemma-2b --backend cuda --batch $STATIC_BATCH --input 128 --output 128"; line=throughput
else
  G="latency --random-weights gemma-2b --backend cuda --input 128 --output 256 --runs ${RUNS:-3}"; line=decode
fi
n=0
for variant in "$@"; do
  n=$((n + 1))
  settings=$([ "$variant" = base ] || echo "$variant")
  binary=$BIN
  for setting in $settings; do [[ $setting == KILN_BIN=* ]] && binary=${setting#KILN_BIN=}; done
  env $settings "$binary" bench $G > "$OUT/variant-$n.txt" 2>&1
  printf '%-48s %s\n' "$variant" "$(grep -h "$line" "$OUT/variant-$n.txt" | head -1)" | tee -a "$OUT/variants.txt"
done
