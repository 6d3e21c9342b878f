// The combine of the decode kernels' partitions (rows whose keys needed more than one).
// Body: attention_decode.cuh. ABI: README-attention.md.
#include "attention_decode.cuh"

#define KILN_DECODE_REDUCE(T, SUFFIX)                                                                              \
    extern "C" __global__ void attention_decode_reduce_##SUFFIX(                                                   \
        const float* partialOut, const float* partialMax, const float* partialSum, T* out, int outStride,          \
        const int* positions, const int* rowSequence, const int* sequenceContextLength, int heads, int headDim,    \
        int slidingWindow, int partitionSize, int maxPartitions) {                                                 \
        attention_decode_reduce_body<T>(partialOut, partialMax, partialSum, out, outStride, positions, rowSequence, \
                                        sequenceContextLength, heads, headDim, slidingWindow, partitionSize,       \
                                        maxPartitions);                                                            \
    }

KILN_DECODE_REDUCE(float, f32)
KILN_DECODE_REDUCE(bf16, bf16)
