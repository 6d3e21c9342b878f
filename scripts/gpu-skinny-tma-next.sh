#!/usr/bin/env bash
# The next skinny-GEMM measurements (session 12's open question, README-skinny-gemm.md "TMA
# variants"), on the device machine with .gpu/kiln.xz: why the TMA kernel takes ~12 us for qkv at
# 64 rows. 1) the KILN_SKINNY_TMA_PIPELINE build (wgmma group kept in flight, per-stage empty
# barriers) against the CPU; 2) ncu on the qkv shape, default and pipelined (stall reasons, L2 and
# DRAM bytes); 3) static 64, default against pipelined, the skinny candidates' times printed
# (KILN_GEMV_LOG=2), each side in its own cache.
set -u
source scripts/gpu-common.sh
P=KILN_KERNEL_DEFINES=KILN_SKINNY_TMA_PIPELINE
rm -rf /tmp/kc-tma-default /tmp/kc-tma-pipe
KILN_CACHE=/tmp/kc-tma-pipe timeout 300 env $P "$BIN" check gpu --only " tma" > "$OUT/check-tma-pipeline.txt" 2>&1
echo "pipelined checks: $(tail -1 "$OUT/check-tma-pipeline.txt")"; grep FAIL "$OUT/check-tma-pipeline.txt" | head -4
R="long_scoreboard barrier wait short_scoreboard mio_throttle lg_throttle math_pipe_throttle membar no_instruction sleeping selected"
M=gpu__time_duration.sum,smsp__inst_executed.sum,dram__bytes_read.sum,lts__t_bytes.sum,sm__warps_active.avg.pct_of_peak_sustained_active
for r in $R; do M="$M,smsp__average_warps_issue_stalled_${r}_per_issue_active.ratio"; done
for side in default pipe; do
  defines=$([ $side = pipe ] && echo "$P")
  KILN_CACHE=/tmp/kc-tma-$side timeout 150 env $defines /usr/local/cuda/bin/ncu --clock-control none -k regex:skinny_gemm_bf16_n64_m64_tma \
    -c 1 --metrics $M "$BIN" check gpu --only "skinny n64 m64 x1 tma x [64, 2048]" > "$OUT/ncu-$side.txt" 2>&1
  echo "== ncu $side"; grep -E "gpu__time|inst_executed|dram__|lts__|warps_active|stalled" "$OUT/ncu-$side.txt" \
    | sed 's/smsp__average_warps_issue_stalled_//' | awk '{$1=$1};1' | head -18
done
STATIC_BATCH=64 scripts/gpu-decode-variants.sh "KILN_CACHE=/tmp/kc-tma-default KILN_GEMV_LOG=2" "$P KILN_CACHE=/tmp/kc-tma-pipe KILN_GEMV_LOG=2" \
  "KILN_CACHE=/tmp/kc-tma-default" "$P KILN_CACHE=/tmp/kc-tma-pipe"
for n in 1 2; do echo "== variant $n: qkv / o candidates"; grep -E "N (2560|2048) K 2048 rows 64: n64 m64 x[12] tma" "$OUT/variant-$n.txt" | head -4; done
