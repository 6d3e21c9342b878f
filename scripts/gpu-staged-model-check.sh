#!/usr/bin/env bash
# On the device machine, after SmolLM2 and Gemma-3-270M were staged into /tmp/stage with
# scripts/gpu-stage.sh: kiln check gpu --models on the five fixtures and both real models, then
# `kiln generate` greedy ids on cuda (bf16) against cpu. Binary in .gpu/kiln.xz.
set -u
source scripts/gpu-common.sh
M="/tmp/stage/smollm2-135m-instruct-q4_1.gguf /tmp/stage/gemma-3-270m-q4_k_m.gguf"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; echo "commit $(cat .gpu/commit)"
t0=$(date +%s)
"$BIN" check gpu --models Tests/KilnModelsTests/Fixtures/{llama,qwen2,gemma,gemma2,gemma3} $M > $OUT/check-gpu.txt 2>&1
echo "check gpu --models: exit $? in $(( $(date +%s) - t0 )) s"
grep -E "^FAIL" $OUT/check-gpu.txt | head
grep -E "greedy tokens identical|queued greedy|prompt logits rel" $OUT/check-gpu.txt | grep -E "smollm|gemma-3" | cut -c1-160
tail -1 $OUT/check-gpu.txt
for m in $M; do
  n=$(basename $m .gguf)
  for b in cpu cuda; do "$BIN" generate $m "The capital of France is" --temperature 0 --max-tokens 32 --ignore-eos --json --backend $b > $OUT/gen-$n-$b.json 2> $OUT/gen-$n-$b.err; done
  python3 - $OUT/gen-$n-cpu.json $OUT/gen-$n-cuda.json $n <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def ids(d):
    for k in ("output_ids", "outputIDs", "ids", "tokens"):
        if k in d: return d[k]
    return d
ia, ib = ids(a), ids(b)
print(sys.argv[3], "generate cpu vs cuda (bf16), 32 greedy tokens:", "identical" if ia == ib else "DIFFER", "|", str(b.get("text", ""))[:80].replace("\n", " "))
PY
done
