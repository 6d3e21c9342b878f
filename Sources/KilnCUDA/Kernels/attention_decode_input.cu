// Split-K decode attention forming its own input (bf16): QK-norm, RoPE and the new K/V formed in
// the kernel from the fused Q/K/V product. Body and description: attention_decode.cuh. CPU twin:
// CPUBackend.headRMSNorm, .rope, .writeCache, then .attention. ABI: README-attention.md.
#include "attention_decode.cuh"

// With the fused attention input (bf16 only: the fast path; fp32 runs attention_input first).
#define KILN_DECODE_INPUT(T, SUFFIX, HEAD_DIM, GROUP_TILE)                                                        \
    extern "C" __global__ void KILN_ATTENTION_BOUNDS attention_decode_input_##SUFFIX##_h##HEAD_DIM##_g##GROUP_TILE( \
        const T* query, int queryStride, const T* keyCache, const T* valueCache, T* out, int outStride,            \
        const int* positions, const int* rowSequence, const int* sequenceContextLength, const int* blockTables,    \
        int blockTableStride, int blockSize, int heads, int kvHeads, float scale, int slidingWindow, float softcap, \
        int partitionSize, float* partialOut, float* partialMax, float* partialSum, const T* qkv, int qkvStride,  \
        T* keyCacheOut, T* valueCacheOut, const int* slots, const float* queryNorm, const float* keyNorm,          \
        float epsilon, const float* inverseFrequencies, int pairs, int interleaved) {                             \
        attention_decode_body<T, HEAD_DIM, GROUP_TILE, true>(                                                      \
            query, queryStride, keyCache, valueCache, out, outStride, positions, rowSequence, sequenceContextLength, \
            blockTables, blockTableStride, blockSize, heads, kvHeads, scale, slidingWindow, softcap, partitionSize, \
            partialOut, partialMax, partialSum,                                                                    \
            DecodeInput<T>{qkv, qkvStride, keyCacheOut, valueCacheOut, slots, queryNorm, keyNorm, epsilon,        \
                           inverseFrequencies, pairs, interleaved});                                              \
    }

#define KILN_DECODE_INPUT_GROUPS(T, SUFFIX, HEAD_DIM) \
    KILN_DECODE_INPUT(T, SUFFIX, HEAD_DIM, 1)         \
    KILN_DECODE_INPUT(T, SUFFIX, HEAD_DIM, 2)         \
    KILN_DECODE_INPUT(T, SUFFIX, HEAD_DIM, 4)         \
    KILN_DECODE_INPUT(T, SUFFIX, HEAD_DIM, 8)

KILN_DECODE_INPUT_GROUPS(bf16, bf16, 64)
KILN_DECODE_INPUT_GROUPS(bf16, bf16, 128)
KILN_DECODE_INPUT_GROUPS(bf16, bf16, 256)
