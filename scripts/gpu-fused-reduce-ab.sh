#!/usr/bin/env bash
# The fused decode-attention reduce (KILN_ATTENTION_FUSED_REDUCE=1, README-attention.md; built in
# session 13, first GPU run here), on the device machine with .gpu/kiln.xz: the decode checks with
# and without it against the CPU, the fixture models (graph replay with it = op-by-op with the
# reduce kernel, bit for bit), then batch-1 decode and static 64 alternating off / on, one cache.
# Prints as it goes (do not pipe through tail).
set -u
source scripts/gpu-common.sh
# The tiny fixtures' head sizes (16, 32) take the reference attention: only a real model (SmolLM2,
# head size 64, staged by scripts/gpu-stage.sh in earlier calls) puts the fused path in the model check.
SMOL=/tmp/stage/smollm2-135m-instruct-q4_1.gguf; [ -f "$SMOL" ] || SMOL=
timeout 300 "$BIN" check gpu --only "attentionWithInput decode" --models Tests/KilnModelsTests/Fixtures/{llama,qwen2,gemma,gemma2,gemma3} $SMOL \
  > "$OUT/check-fused-reduce.txt" 2>&1
echo "checks: $(tail -1 "$OUT/check-fused-reduce.txt")"; grep -E "^FAIL|graph replay" "$OUT/check-fused-reduce.txt" | cut -c1-200 | head -8
off=KILN_ATTENTION_FUSED_REDUCE=0; on=KILN_ATTENTION_FUSED_REDUCE=1
OUT=$OUT/b1 RUNS=3 timeout 150 scripts/gpu-decode-variants.sh $off $on $off $on
OUT=$OUT/s64 STATIC_BATCH=64 timeout 150 scripts/gpu-decode-variants.sh $off $on $off $on
