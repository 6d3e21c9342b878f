#!/usr/bin/env bash
# Kernel timeline of one batch-1 Gemma-2B decode step (random bf16 weights) on the device machine:
# KILN_TRACE (KernelTracer.swift) records every block's entry, release from the programmatic-launch
# wait and exit; the step traced is KILN_TRACE_STEP (default 200: a replayed CUDA graph, mid-run).
# Writes $OUT/trace.csv (one line per block) and $OUT/trace.csv.launches.txt (one line per launch,
# then totals per kernel site); prints the totals. Extra arguments are environment settings
# (e.g. KILN_KERNEL_DEFINES=KILN_GEMV_NO_PRELOAD). Binary in .gpu/kiln.xz.
set -u
source scripts/gpu-common.sh
# STATIC_BATCH=B traces a static batch of B sequences (128 in / 128 out) instead, step 100 by default.
if [ -n "${STATIC_BATCH:-}" ]; then
  G="static --random-weights gemma-2b --backend cuda --batch $STATIC_BATCH --input 128 --output 128"; step=100
else
  G="latency --random-weights gemma-2b --backend cuda --input 128 --output 256 --runs 1"; step=200
fi
env KILN_TRACE="$OUT/trace.csv" KILN_TRACE_STEP=${KILN_TRACE_STEP:-$step} "$@" \
  "$BIN" bench $G > "$OUT/trace-run.txt" 2>&1
grep -E "KILN_TRACE|decode|throughput" "$OUT/trace-run.txt"
sed -n '/^site /,$p' "$OUT/trace.csv.launches.txt"
