// Split-K decode attention: the split kernels (f32 and bf16), which read the queries from `query`.
// Body and description: attention_decode.cuh. CPU twin: CPUBackend.attention. ABI: README-attention.md.
#include "attention_decode.cuh"

#define KILN_DECODE(T, SUFFIX, HEAD_DIM, GROUP_TILE)                                                              \
    extern "C" __global__ void KILN_ATTENTION_BOUNDS attention_decode_##SUFFIX##_h##HEAD_DIM##_g##GROUP_TILE( \
        const T* query, int queryStride, const T* keyCache, const T* valueCache, T* out, int outStride,            \
        const int* positions, const int* rowSequence, const int* sequenceContextLength, const int* blockTables,    \
        int blockTableStride, int blockSize, int heads, int kvHeads, float scale, int slidingWindow, float softcap, \
        int partitionSize, float* partialOut, float* partialMax, float* partialSum) {                              \
        attention_decode_body<T, HEAD_DIM, GROUP_TILE>(query, queryStride, keyCache, valueCache, out, outStride,    \
                                                       positions, rowSequence, sequenceContextLength, blockTables, \
                                                       blockTableStride, blockSize, heads, kvHeads, scale,         \
                                                       slidingWindow, softcap, partitionSize, partialOut,          \
                                                       partialMax, partialSum);                                    \
    }

#define KILN_DECODE_GROUPS(T, SUFFIX, HEAD_DIM) \
    KILN_DECODE(T, SUFFIX, HEAD_DIM, 1)         \
    KILN_DECODE(T, SUFFIX, HEAD_DIM, 2)         \
    KILN_DECODE(T, SUFFIX, HEAD_DIM, 4)         \
    KILN_DECODE(T, SUFFIX, HEAD_DIM, 8)

KILN_DECODE_GROUPS(float, f32, 64)
KILN_DECODE_GROUPS(float, f32, 128)
KILN_DECODE_GROUPS(float, f32, 256)
KILN_DECODE_GROUPS(bf16, bf16, 64)
KILN_DECODE_GROUPS(bf16, bf16, 128)
KILN_DECODE_GROUPS(bf16, bf16, 256)
