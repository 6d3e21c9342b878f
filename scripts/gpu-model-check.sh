#!/usr/bin/env bash
# Runs on the GPU machine: whole models on the CUDA backend against the CPU backend.
#   scripts/gpu-model-check.sh BINARY_XZ MODEL_FILE...
# Unpacks the binary, runs `kiln check gpu --quick --models` on the five tiny transformers
# fixtures and the given real models, then `kiln generate --backend cuda` vs `--backend cpu` on
# each real model. Logs go to $OUT; a summary is printed last.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/kiln-gpu-model-check}
mkdir -p "$out"
binary=/tmp/kiln-model-check-bin
xz -dc "$1" > "$binary" && chmod +x "$binary" || { echo "cannot unpack $1"; exit 1; }
shift
fixtures=(Tests/KilnModelsTests/Fixtures/{llama,qwen2,gemma,gemma2,gemma3})
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
} | tee "$out/environment.txt"
export KILN_CACHE=/tmp/kiln-model-check-cache
"$binary" check gpu --quick --models "${fixtures[@]}" "$@" > "$out/check-gpu-models.txt" 2>&1
echo "check gpu --quick --models: exit $?"
for model in "$@"; do
  for backend in cpu cuda; do
    "$binary" generate "$model" "The capital of France is" --temperature 0 --max-tokens 32 --ignore-eos --json --backend $backend \
      > "$out/generate-$backend.json" 2> "$out/generate-$backend.err"
    echo "generate --backend $backend: exit $? $(head -c 400 "$out/generate-$backend.json")"
  done
done
grep -E "^(FAIL|PASS model)" "$out/check-gpu-models.txt"
tail -1 "$out/check-gpu-models.txt"
