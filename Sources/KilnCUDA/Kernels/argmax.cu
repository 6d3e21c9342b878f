// Greedy decoding: the index of the largest logit of each row. CPU twin: the engine's greedy
// Sampler (temperature 0). Ties go to the lowest id; NaN is never chosen; a row of only -inf
// or NaN gives id 0, value -inf.
#include "kiln_common.cuh"

// Keeps (value, index) when (otherValue, otherIndex) is not better: larger value wins, equal
// values go to the lower index. NaN compares false, so it never replaces anything.
__device__ __forceinline__ void argmax_merge(float& value, int& index, float otherValue, int otherIndex) {
    if (otherValue > value || (otherValue == value && otherIndex < index)) {
        value = otherValue;
        index = otherIndex;
    }
}

// grid.x = rows, one block per row (blockDim.x a multiple of 32). logits: [rows, rowStride],
// the first `vocabulary` of each row read; ids: [rows] int32; values: [rows] fp32.
template <typename T>
__device__ __forceinline__ void argmax_body(const T* __restrict__ logits, int vocabulary, long long rowStride,
                                            int* __restrict__ ids, float* __restrict__ values) {
    __shared__ float sharedValues[32];
    __shared__ int sharedIndices[32];
    const long long row = blockIdx.x;
    const T* input = logits + row * rowStride;
    float best = KILN_NEG_INFINITY;
    int bestIndex = 0x7fffffff;
    // Each thread visits increasing indices, so strict > keeps its lowest index among equals.
    for (int i = threadIdx.x; i < vocabulary; i += blockDim.x) {
        const float value = to_float(input[i]);
        if (value > best) {
            best = value;
            bestIndex = i;
        }
    }
    #pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        const float otherValue = __shfl_xor_sync(0xffffffffu, best, offset);
        const int otherIndex = __shfl_xor_sync(0xffffffffu, bestIndex, offset);
        argmax_merge(best, bestIndex, otherValue, otherIndex);
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    if (lane == 0) {
        sharedValues[warp] = best;
        sharedIndices[warp] = bestIndex;
    }
    __syncthreads();
    if (warp == 0) {
        best = lane < warps ? sharedValues[lane] : KILN_NEG_INFINITY;
        bestIndex = lane < warps ? sharedIndices[lane] : 0x7fffffff;
        #pragma unroll
        for (int offset = 16; offset > 0; offset >>= 1) {
            const float otherValue = __shfl_xor_sync(0xffffffffu, best, offset);
            const int otherIndex = __shfl_xor_sync(0xffffffffu, bestIndex, offset);
            argmax_merge(best, bestIndex, otherValue, otherIndex);
        }
        if (lane == 0) {
            const bool none = !(best > KILN_NEG_INFINITY);
            ids[row] = none ? 0 : bestIndex;
            values[row] = none ? KILN_NEG_INFINITY : best;
        }
    }
}

#define KILN_ARGMAX(T, SUFFIX)                                                                             \
    extern "C" __global__ void argmax_##SUFFIX(const T* logits, int vocabulary, long long rowStride, int* ids, \
                                               float* values) {                                            \
        argmax_body<T>(logits, vocabulary, rowStride, ids, values);                                        \
    }

KILN_ARGMAX(float, f32)
KILN_ARGMAX(bf16, bf16)
