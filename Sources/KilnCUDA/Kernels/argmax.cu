// Greedy decoding: the index of the largest logit of each row. CPU twin: the engine's greedy
// Sampler (temperature 0). Ties go to the lowest id; NaN is never chosen; a row of only -inf
// or NaN gives id 0, value -inf.
#include "kiln_common.cuh"

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
    block_argmax(best, bestIndex, sharedValues, sharedIndices);
    if (threadIdx.x == 0) {
        const bool none = !(best > KILN_NEG_INFINITY);
        ids[row] = none ? 0 : bestIndex;
        values[row] = none ? KILN_NEG_INFINITY : best;
    }
}

// Wide rows (a 256,000-entry vocabulary): one block per row reads at one SM's pace (58 us on an
// H100), so rows are cut into `parts` slices of `sliceLength` (grid (parts, rows)), each block
// writes its slice's best to partialValues/partialIndices [rows, parts], and argmax_merge_parts (grid
// rows, 32 threads, parts <= 1024) combines them with the same rule, so the result is the same.
// Groups8 (bf16 rows with vocabulary, rowStride and sliceLength multiples of 8, 16-byte aligned:
// argmax_partial_bf16_vec8): each thread reads 8 logits with one 16-byte load, two loads in
// flight, instead of 2-byte loads (a [64, 256000] step's 32.8 MB took ~35 us, ~1 TB/s, on an
// H100). Same rule and result: a thread still visits its indices in increasing order.
template <typename T, bool Groups8 = false>
__device__ __forceinline__ void argmax_partial_body(const T* __restrict__ logits, int vocabulary, long long rowStride,
                                                    int sliceLength, float* __restrict__ partialValues,
                                                    int* __restrict__ partialIndices) {
    KILN_TRACE_SCOPE(kTraceArgmax);
    kiln_wait_prerequisites();
    __shared__ float sharedValues[32];
    __shared__ int sharedIndices[32];
    const long long row = blockIdx.y;
    const int begin = blockIdx.x * sliceLength, end = min(vocabulary, begin + sliceLength);
    const T* input = logits + row * rowStride;
    float best = KILN_NEG_INFINITY;
    int bestIndex = 0x7fffffff;
    if constexpr (Groups8) {
        #pragma unroll 2
        for (int i = begin + threadIdx.x * 8; i < end; i += blockDim.x * 8) {
            float value[8];
            kiln_unpack_bf16x8(*reinterpret_cast<const uint4*>(input + i), value);
            #pragma unroll
            for (int j = 0; j < 8; ++j) {
                if (value[j] > best) {
                    best = value[j];
                    bestIndex = i + j;
                }
            }
        }
    } else {
        #pragma unroll 4
        for (int i = begin + threadIdx.x; i < end; i += blockDim.x) {
            const float value = to_float(input[i]);
            if (value > best) {
                best = value;
                bestIndex = i;
            }
        }
    }
    block_argmax(best, bestIndex, sharedValues, sharedIndices);
    if (threadIdx.x == 0) {
        partialValues[row * gridDim.x + blockIdx.x] = best;
        partialIndices[row * gridDim.x + blockIdx.x] = bestIndex;
    }
}

extern "C" __global__ void argmax_partial_bf16_vec8(const bf16* logits, int vocabulary, long long rowStride, int sliceLength,
                                                    float* partialValues, int* partialIndices) {
    argmax_partial_body<bf16, true>(logits, vocabulary, rowStride, sliceLength, partialValues, partialIndices);
}

extern "C" __global__ void argmax_merge_parts(const float* __restrict__ partialValues, const int* __restrict__ partialIndices,
                                              int parts, int* __restrict__ ids, float* __restrict__ values) {
    KILN_TRACE_SCOPE(kTraceArgmaxMerge);
    kiln_wait_prerequisites();
    __shared__ float sharedValues[32];
    __shared__ int sharedIndices[32];
    const long long row = blockIdx.x;
    float best = KILN_NEG_INFINITY;
    int bestIndex = 0x7fffffff;
    for (int p = threadIdx.x; p < parts; p += blockDim.x)
        argmax_merge(best, bestIndex, partialValues[row * parts + p], partialIndices[row * parts + p]);
    block_argmax(best, bestIndex, sharedValues, sharedIndices);
    if (threadIdx.x == 0) {
        const bool none = !(best > KILN_NEG_INFINITY);
        ids[row] = none ? 0 : bestIndex;
        values[row] = none ? KILN_NEG_INFINITY : best;
    }
}

#define KILN_ARGMAX(T, SUFFIX)                                                                             \
    extern "C" __global__ void argmax_##SUFFIX(const T* logits, int vocabulary, long long rowStride, int* ids, \
                                               float* values) {                                            \
        argmax_body<T>(logits, vocabulary, rowStride, ids, values);                                        \
    }                                                                                                      \
    extern "C" __global__ void argmax_partial_##SUFFIX(const T* logits, int vocabulary, long long rowStride,  \
                                                       int sliceLength, float* partialValues,              \
                                                       int* partialIndices) {                              \
        argmax_partial_body<T>(logits, vocabulary, rowStride, sliceLength, partialValues, partialIndices); \
    }

KILN_ARGMAX(float, f32)
KILN_ARGMAX(bf16, bf16)
