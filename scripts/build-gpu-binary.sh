#!/usr/bin/env bash
# The release binary for the device machine: static Swift runtime, stripped, xz-compressed into
# .gpu/kiln.xz (git-ignored; pass .gpu in the device call's carry), its commit in .gpu/commit
# ("-dirty" when the tree has uncommitted changes) and the unstripped binary kept as
# .gpu-symbols/kiln for addr2line on a crash report (kiln prints its return addresses on a crash:
# Sources/kiln/CrashBacktrace.swift).
# Kiln's own release modules are rebuilt every time (every source touched): SwiftPM's incremental
# release build once kept a module whose generic code called a protocol through an old
# witness-table layout (a requirement had been added to Backend), which crashed on the GPU only.
# (Deleting the modules' intermediates instead left llbuild without their output file maps in
# Swift 6.3.1.) The package dependencies stay built; a build takes ~1.5 minutes on 2 cores. The
# touch also makes the next debug build (.build) recompile every Kiln module.
set -euo pipefail
cd "$(dirname "$0")/.."
release=.build-gpu/release
find Sources -name '*.swift' -exec touch {} +
swift build -c release --static-swift-stdlib --product kiln --scratch-path .build-gpu -Xswiftc -target-cpu -Xswiftc haswell
mkdir -p .gpu .gpu-symbols
cp "$release"/kiln .gpu-symbols/kiln
stripped=$(mktemp)
trap 'rm -f "$stripped"' EXIT
strip -o "$stripped" "$release"/kiln
xz -T2 -3 -c "$stripped" > .gpu/kiln.xz
git describe --always --dirty > .gpu/commit
ls -l .gpu/kiln.xz
