#!/usr/bin/env bash
# Nsight Compute stall reasons of the batch-1 decode attention and its reduce (one launch each of a
# replayed Gemma-2B step, random bf16 weights). On the device machine; binary in .gpu/kiln.xz.
set -u
source scripts/gpu-common.sh
R="long_scoreboard barrier wait short_scoreboard mio_throttle lg_throttle math_pipe_throttle membar no_instruction drain imc_miss branch_resolving dispatch_stall"
M=gpu__time_duration.sum,smsp__inst_executed.sum,launch__registers_per_thread,launch__grid_size,sm__warps_active.avg.pct_of_peak_sustained_active,l1tex__t_bytes_pipe_lsu_mem_local_op_ld.sum
for r in $R; do M="$M,smsp__average_warps_issue_stalled_${r}_per_issue_active.ratio"; done
for k in attention_decode_input attention_decode_reduce; do
/usr/local/cuda/bin/ncu --clock-control none -k regex:$k -s 200 -c 1 --metrics $M \
  "$BIN" bench latency --random-weights gemma-2b --backend cuda --input 128 --output 20 --runs 1 > $OUT/ncu-$k.txt 2>&1
grep -E "attention|gpu__time|inst_executed|registers|grid_size|warps_active|local|stalled" $OUT/ncu-$k.txt | sed 's/smsp__average_warps_issue_stalled_//' | awk '{$1=$1};1' | head -24
done
