#!/usr/bin/env bash
# Where a batch-1 decode step's time goes inside the real step (CUDA graphs, programmatic launch):
# Gemma-2B shape, random bf16 weights, timed with each op class left out in turn
# (KILN_PROFILE_SKIP, profiling only: the tokens are wrong). The difference to the full run is
# what that class costs. On the device machine from the repo root; binary in .gpu/kiln.xz.
set -u
variants=(base)
for skip in norm attention attention-input small-gemv medium-gemv gate-up large-gemv "norm,attention,attention-input"; do
  variants+=("KILN_PROFILE_SKIP=$skip")
done
exec "$(dirname "$0")/gpu-decode-variants.sh" "${variants[@]}"
