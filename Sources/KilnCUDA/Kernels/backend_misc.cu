// Small kernels the CUDA backend needs besides the fused ones: a reference fp32 matrix product
// (the CPU-parity path; cuBLASLt and the GEMV kernels are the fast paths) and a row gather.
#include "kiln_common.cuh"

// out[m, n] = Σ_k x[m, k] · w[n, k] (+ bias[n]).  x: [M, K] fp32; w: [N, K] of W (fp32 or bf16);
// bias: [N] fp32 or null; out: [M, N] fp32. One warp per output element, fp32 accumulation in a
// fixed order (lane-strided partial sums, then a tree), so results are deterministic.
// grid = (ceil(N / 8), M), block = 256 (8 warps, one output column each).
template <typename W>
__device__ __forceinline__ void linear_reference_body(const float* __restrict__ x, const W* __restrict__ w,
                                                      const float* __restrict__ bias, float* __restrict__ out,
                                                      int rows, int columns, int inner) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int n = blockIdx.x * 8 + warp;
    const int m = blockIdx.y;
    if (n >= columns || m >= rows) return;
    const float* xRow = x + (long long)m * inner;
    const W* wRow = w + (long long)n * inner;
    float sum = 0.f;
    for (int k = lane; k < inner; k += 32) sum += xRow[k] * to_float(wRow[k]);
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
    if (lane == 0) out[(long long)m * columns + n] = sum + (bias ? bias[n] : 0.f);
}

extern "C" __global__ void linear_reference_f32(const float* x, const float* w, const float* bias, float* out,
                                                int rows, int columns, int inner) {
    linear_reference_body<float>(x, w, bias, out, rows, columns, inner);
}
extern "C" __global__ void linear_reference_bf16(const float* x, const bf16* w, const float* bias, float* out,
                                                 int rows, int columns, int inner) {
    linear_reference_body<bf16>(x, w, bias, out, rows, columns, inner);
}

// out[i, :] = x[rows[i], :]. x: [*, columns]; out: [count, columns]; rows: [count] int32.
// grid = count, block = 256.
extern "C" __global__ void gather_rows_f32(const float* x, const int* rows, float* out, int columns) {
    KILN_TRACE_SCOPE(kTraceGatherRows);
    kiln_wait_prerequisites();
    const long long source = rows[blockIdx.x];
    for (int c = threadIdx.x; c < columns; c += blockDim.x)
        out[(long long)blockIdx.x * columns + c] = x[source * columns + c];
}

// Reference paged attention for any head size <= 256 (the tuned kernels take 64/128/256): one
// warp per (sequence, new token, query head), keys visited in order with an online softmax in
// fp32. Same semantics and parameters as attention_prefill (sequenceContextLength unused), then
// the head size.
// grid = (longest token count, heads, sequences), block = 32. T: float or bf16 (fp32 arithmetic).
template <typename T>
__device__ __forceinline__ void attention_reference_body(
    const T* query, int queryStride, const T* keyCache, const T* valueCache, T* out, int outStride,
    const int* positions, const int* sequenceTokenStart, const int* sequenceTokenCount, const int* blockTables,
    int blockTableStride, int blockSize, int heads, int kvHeads, float scale, int slidingWindow, float softcap,
    int headDim) {
    const int sequence = blockIdx.z, head = blockIdx.y, lane = threadIdx.x;
    if ((int)blockIdx.x >= sequenceTokenCount[sequence]) return;
    const int row = sequenceTokenStart[sequence] + blockIdx.x;
    const int position = positions[row];
    const int kvHead = head / (heads / kvHeads);
    const int width = kvHeads * headDim;
    const int* table = blockTables + (long long)sequence * blockTableStride;
    const T* q = query + (long long)row * queryStride + head * headDim;
    constexpr int kMaxPerLane = 8;  // headDim <= 256
    float accumulator[kMaxPerLane];
    float qPart[kMaxPerLane];
    #pragma unroll
    for (int i = 0; i < kMaxPerLane; ++i) {
        const int d = lane + 32 * i;
        accumulator[i] = 0.f;
        qPart[i] = d < headDim ? to_float(q[d]) : 0.f;
    }
    float runningMax = KILN_NEG_INFINITY, runningSum = 0.f;
    const int first = slidingWindow > 0 ? max(0, position - slidingWindow + 1) : 0;
    for (int key = first; key <= position; ++key) {
        const long long slot = (long long)table[key / blockSize] * blockSize + key % blockSize;
        const T* k = keyCache + slot * width + kvHead * headDim;
        const T* v = valueCache + slot * width + kvHead * headDim;
        float partial = 0.f;
        #pragma unroll
        for (int i = 0; i < kMaxPerLane; ++i) {
            const int d = lane + 32 * i;
            if (d < headDim) partial += qPart[i] * to_float(k[d]);
        }
        float score = warp_sum(partial) * scale;
        if (softcap > 0.f) score = softcap * tanhf(score / softcap);
        const float newMax = fmaxf(runningMax, score);
        const float correction = expf(runningMax - newMax);
        const float weight = expf(score - newMax);
        runningSum = runningSum * correction + weight;
        #pragma unroll
        for (int i = 0; i < kMaxPerLane; ++i) {
            const int d = lane + 32 * i;
            accumulator[i] = accumulator[i] * correction + (d < headDim ? weight * to_float(v[d]) : 0.f);
        }
        runningMax = newMax;
    }
    T* destination = out + (long long)row * outStride + head * headDim;
    #pragma unroll
    for (int i = 0; i < kMaxPerLane; ++i) {
        const int d = lane + 32 * i;
        if (d < headDim) destination[d] = from_float<T>(accumulator[i] / runningSum);
    }
}

#define KILN_ATTENTION_REFERENCE(T, SUFFIX)                                                                       \
    extern "C" __global__ void attention_reference_##SUFFIX(                                                      \
        const T* query, int queryStride, const T* keyCache, const T* valueCache, T* out, int outStride,           \
        const int* positions, const int* sequenceTokenStart, const int* sequenceTokenCount,                       \
        const int* sequenceContextLength, const int* blockTables, int blockTableStride, int blockSize, int heads,  \
        int kvHeads, float scale, int slidingWindow, float softcap, int headDim) {                                \
        attention_reference_body<T>(query, queryStride, keyCache, valueCache, out, outStride, positions,          \
                                    sequenceTokenStart, sequenceTokenCount, blockTables, blockTableStride,        \
                                    blockSize, heads, kvHeads, scale, slidingWindow, softcap, headDim);           \
    }
KILN_ATTENTION_REFERENCE(float, f32)
KILN_ATTENTION_REFERENCE(bf16, bf16)

// gather_rows for bf16 activations (same ABI as gather_rows_f32).
extern "C" __global__ void gather_rows_bf16(const bf16* x, const int* rows, bf16* out, int columns) {
    KILN_TRACE_SCOPE(kTraceGatherRows);
    kiln_wait_prerequisites();
    const long long source = rows[blockIdx.x];
    for (int c = threadIdx.x; c < columns; c += blockDim.x)
        out[(long long)blockIdx.x * columns + c] = x[source * columns + c];
}
