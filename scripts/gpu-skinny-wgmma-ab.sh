#!/usr/bin/env bash
# The first device run of KILN_SKINNY_WGMMA (skinny_gemm.cu's stage products on wgmma; session 10,
# compiled but not yet run): its forced-configuration checks, then static batch 64 with and
# without it, each in its own kernel/autotune cache (the in-graph skinny-vs-library decisions are
# timed again; KILN_GEMV_LOG=1 prints them). On the device machine; binary in .gpu/kiln.xz.
set -u
source scripts/gpu-common.sh
KILN_KERNEL_DEFINES=KILN_SKINNY_WGMMA KILN_CACHE=/tmp/kc-wgmma timeout 120 "$BIN" check gpu --only skinny > "$OUT/check-wgmma.txt" 2>&1
grep -E "FAIL" "$OUT/check-wgmma.txt" | head -4; tail -1 "$OUT/check-wgmma.txt"
grep -q " 0 failed" "$OUT/check-wgmma.txt" || exit 1
STATIC_BATCH=64 scripts/gpu-decode-variants.sh "KILN_KERNEL_DEFINES=KILN_SKINNY_WGMMA KILN_CACHE=/tmp/kc-wgmma KILN_GEMV_LOG=1" \
  "KILN_CACHE=/tmp/kc-mma KILN_GEMV_LOG=1" "KILN_KERNEL_DEFINES=KILN_SKINNY_WGMMA KILN_CACHE=/tmp/kc-wgmma" "KILN_CACHE=/tmp/kc-mma"
grep -h "skinny\|library" "$OUT/variant-1.txt" | head -8
