#!/usr/bin/env bash
# Static batch of the Gemma-2B shape (random bf16 weights, 128 in / 128 out; BATCH, default 64)
# under environment variants, for A/B comparisons in one call on one card: each argument is a
# space-separated list of VAR=value (or "base"), e.g.
#   scripts/gpu-static-variants.sh base KILN_KERNEL_DEFINES=KILN_ATTENTION_3_BLOCKS \
#     KILN_KERNEL_DEFINES=KILN_SKINNY_L2_256B KILN_SKINNY_GEMM=0 base
# KILN_BIN=PATH in a variant runs another binary. Prints one line per variant. On the device
# machine; binary in .gpu/kiln.xz.
set -u
source scripts/gpu-common.sh
n=0
for variant in "$@"; do
  n=$((n + 1))
  settings=$([ "$variant" = base ] || echo "$variant")
  binary=$BIN
  for setting in $settings; do [[ $setting == KILN_BIN=* ]] && binary=${setting#KILN_BIN=}; done
  env $settings "$binary" bench static --random-weights gemma-2b --backend cuda --batch "${BATCH:-64}" --input 128 --output 128 \
    > "$OUT/static-variant-$n.txt" 2>&1
  printf '%-56s %s\n' "$variant" "$(grep -h 'throughput' "$OUT/static-variant-$n.txt" | head -1)" | tee -a "$OUT/static-variants.txt"
done
