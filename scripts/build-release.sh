#!/usr/bin/env bash
# Builds the release `kiln` binary. On x86-64 machines with AVX2 and FMA (every recent server,
# the GPU hosts included) it targets haswell (AVX2, FMA, F16C) so the CPU backend's SIMD loops use 256-bit FMA;
# elsewhere the baseline. Extra arguments go to `swift build` (e.g. --static-swift-stdlib).
set -euo pipefail
cd "$(dirname "$0")/.."
flags=()
if [ "$(uname -m)" = x86_64 ] && grep -q -w avx2 /proc/cpuinfo && grep -q -w fma /proc/cpuinfo; then
  flags=(-Xswiftc -target-cpu -Xswiftc haswell)
fi
swift build -c release --product kiln "${flags[@]}" "$@"
