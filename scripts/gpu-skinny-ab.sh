#!/usr/bin/env bash
# Skinny GEMM A/B on the device machine: the forced-configuration checks of the default build
# (wgmma stage products on sm_90a), then static batch 64 with the default and with
# KILN_SKINNY_MMA_SYNC (the mma.sync path), each in its own fresh kernel/autotune cache (the
# in-graph skinny-vs-library decisions are timed again; KILN_GEMV_LOG=1 prints them).
# Settings for both sides go in SETTINGS (space-separated VAR=value, e.g. KILN_SKINNY_PREFER=1.5)
# and extra kernel switches in DEFINES (comma-separated), which the mma.sync side extends.
# Binary in .gpu/kiln.xz.
set -u
source scripts/gpu-common.sh
rm -rf /tmp/kc-skinny-default /tmp/kc-skinny-mma
S=${SETTINGS:-} D=${DEFINES:-}
KILN_CACHE=/tmp/kc-skinny-default timeout 400 env $S ${D:+KILN_KERNEL_DEFINES=$D} "$BIN" check gpu --only skinny > "$OUT/check-skinny.txt" 2>&1
grep -E "FAIL" "$OUT/check-skinny.txt" | head -4; tail -1 "$OUT/check-skinny.txt"
grep -q " 0 failed" "$OUT/check-skinny.txt" || exit 1
default="$S ${D:+KILN_KERNEL_DEFINES=$D} KILN_CACHE=/tmp/kc-skinny-default"
mma="$S KILN_KERNEL_DEFINES=${D:+$D,}KILN_SKINNY_MMA_SYNC KILN_CACHE=/tmp/kc-skinny-mma"
STATIC_BATCH=64 scripts/gpu-decode-variants.sh "$default KILN_GEMV_LOG=1" "$mma KILN_GEMV_LOG=1" "$default" "$mma"
grep -h "^skinny" "$OUT/variant-1.txt" | head -8
