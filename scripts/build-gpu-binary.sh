#!/usr/bin/env bash
# The release binary for the device machine: static Swift runtime, stripped, xz-compressed into
# .gpu/kiln.xz (git-ignored; pass .gpu in the device call's carry), its commit in .gpu/commit and
# the unstripped binary kept as .gpu-symbols/kiln for addr2line on a crash report (kiln prints its
# return addresses on a crash: Sources/kiln/CrashBacktrace.swift).
# Every source is touched first: SwiftPM's incremental release build once kept a module whose
# generic code called a protocol through an old witness-table layout (a requirement had been
# added to Backend), which crashed on the GPU only. A full rebuild takes ~1 minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
find Sources -name '*.swift' -exec touch {} +
swift build -c release --static-swift-stdlib --product kiln --scratch-path .build-gpu -Xswiftc -target-cpu -Xswiftc haswell
mkdir -p .gpu .gpu-symbols
cp .build-gpu/release/kiln .gpu-symbols/kiln
strip -o /tmp/kiln-stripped .build-gpu/release/kiln
xz -T2 -3 -c /tmp/kiln-stripped > .gpu/kiln.xz
git rev-parse --short HEAD > .gpu/commit
ls -l .gpu/kiln.xz
