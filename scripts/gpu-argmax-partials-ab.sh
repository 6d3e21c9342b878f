#!/usr/bin/env bash
# The LM head's argmax partials (KILN_ARGMAX_EPILOGUE=1, ArgmaxPartials.swift), on the device
# machine with .gpu/kiln.xz: the argmax-partial checks and the model checks (SmolLM2, staged by
# scripts/gpu-stage.sh, runs the greedy batched check), then static batch 64 alternating off / on
# on one kernel cache. Prints as it goes (do not pipe through tail).
set -u
source scripts/gpu-common.sh
SMOL=/tmp/stage/smollm2-135m-instruct-q4_1.gguf; [ -f "$SMOL" ] || SMOL=
timeout 300 "$BIN" check gpu --only "argmax partials" --models Tests/KilnModelsTests/Fixtures/gemma $SMOL > "$OUT/check-argmax-partials.txt" 2>&1
echo "checks: $(tail -1 "$OUT/check-argmax-partials.txt")"
grep -E "^FAIL|greedy batched|batched decode" "$OUT/check-argmax-partials.txt" | cut -c1-250 | head -8
off=KILN_ARGMAX_EPILOGUE=0; on=KILN_ARGMAX_EPILOGUE=1
OUT=$OUT/s64 STATIC_BATCH=64 timeout 200 scripts/gpu-decode-variants.sh $off $on $off $on
