#!/usr/bin/env bash
# Skinny GEMM A/B on the device machine: the forced-configuration checks of the default build
# (wgmma stage products on sm_90a), then static batch 64 with the default and with
# KILN_SKINNY_MMA_SYNC (the mma.sync path), each in its own kernel/autotune cache (the in-graph
# skinny-vs-library decisions are timed again; KILN_GEMV_LOG=1 prints them). Extra arguments are
# settings for both sides (e.g. KILN_SKINNY_PREFER=1.5). Binary in .gpu/kiln.xz.
set -u
source scripts/gpu-common.sh
KILN_CACHE=/tmp/kc-skinny-default timeout 400 "$BIN" check gpu --only skinny > "$OUT/check-skinny.txt" 2>&1
grep -E "FAIL" "$OUT/check-skinny.txt" | head -4; tail -1 "$OUT/check-skinny.txt"
grep -q " 0 failed" "$OUT/check-skinny.txt" || exit 1
STATIC_BATCH=64 scripts/gpu-decode-variants.sh "$* KILN_CACHE=/tmp/kc-skinny-default KILN_GEMV_LOG=1" \
  "$* KILN_KERNEL_DEFINES=KILN_SKINNY_MMA_SYNC KILN_CACHE=/tmp/kc-skinny-mma KILN_GEMV_LOG=1" \
  "$* KILN_CACHE=/tmp/kc-skinny-default" "$* KILN_KERNEL_DEFINES=KILN_SKINNY_MMA_SYNC KILN_CACHE=/tmp/kc-skinny-mma"
grep -h "^skinny" "$OUT/variant-1.txt" | head -8
