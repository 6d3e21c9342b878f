#!/usr/bin/env bash
# Runs on the GPU machine: `kiln check gpu` twice, the first with an empty kernel cache (NVRTC
# compiles every kernel) and the second warm (everything read from the cache), each timed from
# process start to exit; then `kiln check kernels` and the quick check under compute-sanitizer's
# memcheck. Full outputs go to $OUT (or /tmp/kiln-check-gpu); a summary is printed last.
#   scripts/check-gpu.sh [KILN_BINARY]    (default: unpack .gpu/kiln.xz, made by the release build)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/kiln-check-gpu}
mkdir -p "$out"
kiln=${1:-}
if [ -z "$kiln" ]; then
  kiln=/tmp/kiln-check-gpu-bin
  xz -dc .gpu/kiln.xz > "$kiln" && chmod +x "$kiln" || { echo "cannot unpack .gpu/kiln.xz"; exit 1; }
fi
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(cat .gpu/commit 2>/dev/null || git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
  echo "host: $(nproc) cores, $(uname -r)"
} | tee "$out/environment.txt"

export KILN_CACHE=/tmp/kiln-check-gpu-cache
rm -rf "$KILN_CACHE"
status=0
for run in cold warm; do
  start=$(date +%s%N)
  "$kiln" check gpu > "$out/check-gpu-$run.txt" 2>&1
  rc=$?
  end=$(date +%s%N)
  [ $rc -eq 0 ] || status=1
  echo "$run: exit $rc, $(( (end - start) / 1000000 )) ms from process start to exit" | tee -a "$out/timings.txt"
done
"$kiln" check kernels --arch sm_90a,sm_80 > "$out/check-kernels.txt" 2>&1 || status=1
if command -v compute-sanitizer > /dev/null; then
  timeout 240 compute-sanitizer --tool memcheck --error-exitcode 9 "$kiln" check gpu --quick > "$out/memcheck.txt" 2>&1
  echo "memcheck (check gpu --quick): exit $? ($(grep -c '^PASS' "$out/memcheck.txt") checks passed under it; $(grep -E '^========= ERROR SUMMARY' "$out/memcheck.txt" | tail -1))" | tee -a "$out/timings.txt"
fi

echo "--- cold run (full table in check-gpu-cold.txt) ---"
grep -vE '^PASS' "$out/check-gpu-cold.txt"
echo "--- warm run ---"
grep -E '^(kernels|start-up|total|[0-9]+ passed)' "$out/check-gpu-warm.txt"
echo "--- check kernels ---"
tail -1 "$out/check-kernels.txt"
exit $status
