// Rotary position embedding in place. CPU twin: CPUBackend.rope.
// The angle of pair i at position p is p * inverseFrequencies[i] (any scaling, llama3 or
// linear, is already folded into the table on the host); pairs < headDim / 2 is partial rotary
// (the dimensions past the rotated ones are left as they are).
#include "kiln_common.cuh"

// grid.x = rows, one block per row. x: [rows, rowStride], heads of headDim at the start of each
// row; positions: [rows] int32; inverseFrequencies: [pairs]. Dynamic shared memory: 2 * pairs floats.
// Pairing: halves (rotate_half): pair i is (i, i + offset) with offset = headDim / 2 for full
// rotary and pairs for partial (Hugging Face rotates the first 2 * pairs dimensions);
// interleaved (GPT-J): pair i is (2i, 2i + 1).
template <typename T, bool Interleaved>
__device__ __forceinline__ void rope_body(T* x, const int* __restrict__ positions, const float* __restrict__ inverseFrequencies,
                                          int heads, int headDim, int pairs, int rowStride) {
    extern __shared__ float trig[];  // [0, pairs): cos; [pairs, 2 pairs): sin
    const long long row = blockIdx.x;
    const float position = (float)positions[row];
    for (int i = threadIdx.x; i < pairs; i += blockDim.x) {
        float sine, cosine;
        sincosf(position * inverseFrequencies[i], &sine, &cosine);
        trig[i] = cosine;
        trig[pairs + i] = sine;
    }
    __syncthreads();
    const int offset = (2 * pairs == headDim) ? headDim / 2 : pairs;
    T* base = x + row * rowStride;
    for (int work = threadIdx.x; work < heads * pairs; work += blockDim.x) {
        const int head = work / pairs, pair = work - head * pairs;
        T* vector = base + (long long)head * headDim;
        const int first = Interleaved ? 2 * pair : pair;
        const int second = Interleaved ? 2 * pair + 1 : pair + offset;
        const float a = to_float(vector[first]), b = to_float(vector[second]);
        const float cosine = trig[pair], sine = trig[pairs + pair];
        vector[first] = from_float<T>(a * cosine - b * sine);
        vector[second] = from_float<T>(b * cosine + a * sine);
    }
}

#define KILN_ROPE(T, SUFFIX)                                                                                         \
    extern "C" __global__ void rope_halves_##SUFFIX(T* x, const int* positions, const float* inverseFrequencies,      \
                                                    int heads, int headDim, int pairs, int rowStride) {               \
        rope_body<T, false>(x, positions, inverseFrequencies, heads, headDim, pairs, rowStride);                      \
    }                                                                                                                \
    extern "C" __global__ void rope_interleaved_##SUFFIX(T* x, const int* positions, const float* inverseFrequencies, \
                                                         int heads, int headDim, int pairs, int rowStride) {          \
        rope_body<T, true>(x, positions, inverseFrequencies, heads, headDim, pairs, rowStride);                       \
    }

KILN_ROPE(float, f32)
KILN_ROPE(bf16, bf16)
