// The attention input of one layer after its fused Q/K/V product: QK-norm (optional), RoPE, and
// the K/V cache write, in one launch. CPU twin: CPUBackend.headRMSNorm, then .rope on q and k,
// then .writeCache (what DecoderModel runs when Q/K/V are separate products); every intermediate
// is rounded to T exactly where the unfused kernels store it (rms_norm.cu, rope.cu), so on the
// same inputs the result equals the unfused kernels' up to the order of the norm's sum.
#include "kiln_common.cuh"

// grid = (tokens, head groups), blockDim.x = 32 * warps: block (t, y) takes heads y * warps + warp,
// then every gridDim.y * warps-th after it (several blocks per token, so a decode step's few rows
// still spread over several SMs).
// qkv: [tokens, qkvStride], query heads then key heads then value heads, headDim each.
// query: [tokens, queryStride] receives the rotated (normed) query heads.
// keyCache/valueCache: one layer, [slots, kvHeads * headDim]; slots[t] < 0 skips token t's K/V.
// queryNorm/keyNorm: [headDim] fp32, or null for no QK-norm. inverseFrequencies: [pairs].
// Dynamic shared memory: (warps * headDim + 2 * pairs) floats.
template <typename T, bool Interleaved>
__device__ __forceinline__ void attention_input_body(
    const T* __restrict__ qkv, int qkvStride, T* __restrict__ query, int queryStride, T* __restrict__ keyCache,
    T* __restrict__ valueCache, const int* __restrict__ slots, const int* __restrict__ positions,
    const float* __restrict__ queryNorm, const float* __restrict__ keyNorm, float epsilon,
    const float* __restrict__ inverseFrequencies, int pairs, int heads, int kvHeads, int headDim) {
    KILN_TRACE_SCOPE(kTraceAttentionInput);
    kiln_wait_prerequisites();
    extern __shared__ float shared[];
    const int warps = blockDim.x >> 5, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    float* trig = shared;                                   // [0, pairs): cos, [pairs, 2 pairs): sin
    float* head = shared + 2 * pairs + warp * headDim;      // this warp's head
    const long long row = blockIdx.x;
    const float position = (float)positions[row];
    for (int i = threadIdx.x; i < pairs; i += blockDim.x) {
        float sine, cosine;
        sincosf(position * inverseFrequencies[i], &sine, &cosine);
        trig[i] = cosine;
        trig[pairs + i] = sine;
    }
    __syncthreads();
    const int slot = slots[row];
    const long long width = (long long)kvHeads * headDim;
    const int offset = (2 * pairs == headDim) ? headDim / 2 : pairs;
    const T* source = qkv + row * qkvStride;

    for (int h = blockIdx.y * warps + warp; h < heads + 2 * kvHeads; h += gridDim.y * warps) {
        const T* input = source + (long long)h * headDim;
        if (h >= heads + kvHeads) {  // value head: a copy into the cache
            if (slot >= 0) {
                T* out = valueCache + slot * width + (long long)(h - heads - kvHeads) * headDim;
                for (int i = lane; i < headDim; i += 32) out[i] = input[i];
            }
            continue;
        }
        const bool isQuery = h < heads;
        if (!isQuery && slot < 0) continue;
        T* out = isQuery ? query + row * queryStride + (long long)h * headDim
                         : keyCache + slot * width + (long long)(h - heads) * headDim;
        kiln_load_normed_head(input, head, headDim, isQuery ? queryNorm : keyNorm, epsilon, lane);
        for (int pair = lane; pair < pairs; pair += 32) {
            const int first = Interleaved ? 2 * pair : pair;
            const int second = Interleaved ? 2 * pair + 1 : pair + offset;
            const float a = head[first], b = head[second];
            const float cosine = trig[pair], sine = trig[pairs + pair];
            out[first] = from_float<T>(a * cosine - b * sine);
            out[second] = from_float<T>(b * cosine + a * sine);
        }
        for (int i = 2 * pairs + lane; i < headDim; i += 32) out[i] = from_float<T>(head[i]);  // past partial rotary
        __syncwarp();
    }
}

#define KILN_ATTENTION_INPUT(T, SUFFIX)                                                                              \
    extern "C" __global__ void attention_input_halves_##SUFFIX(                                                      \
        const T* qkv, int qkvStride, T* query, int queryStride, T* keyCache, T* valueCache, const int* slots,         \
        const int* positions, const float* queryNorm, const float* keyNorm, float epsilon,                           \
        const float* inverseFrequencies, int pairs, int heads, int kvHeads, int headDim) {                           \
        attention_input_body<T, false>(qkv, qkvStride, query, queryStride, keyCache, valueCache, slots, positions,   \
                                       queryNorm, keyNorm, epsilon, inverseFrequencies, pairs, heads, kvHeads,        \
                                       headDim);                                                                      \
    }                                                                                                                \
    extern "C" __global__ void attention_input_interleaved_##SUFFIX(                                                 \
        const T* qkv, int qkvStride, T* query, int queryStride, T* keyCache, T* valueCache, const int* slots,         \
        const int* positions, const float* queryNorm, const float* keyNorm, float epsilon,                           \
        const float* inverseFrequencies, int pairs, int heads, int kvHeads, int headDim) {                           \
        attention_input_body<T, true>(qkv, qkvStride, query, queryStride, keyCache, valueCache, slots, positions,    \
                                      queryNorm, keyNorm, epsilon, inverseFrequencies, pairs, heads, kvHeads,         \
                                      headDim);                                                                       \
    }

KILN_ATTENTION_INPUT(float, f32)
KILN_ATTENTION_INPUT(bf16, bf16)
