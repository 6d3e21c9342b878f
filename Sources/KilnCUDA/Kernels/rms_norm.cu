// RMSNorm and its variants. Norm weights are fp32 vectors (any (1 + w) offset already applied
// on the host). CPU twins: CPUBackend.rmsNorm, .add followed by .rmsNorm, .headRMSNorm.
#include "kiln_common.cuh"

// out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + epsilon) * weight. grid.x = rows, one block per row.
// x, out: [rows, columns] (out may be x). weight: [columns].
template <typename T>
__device__ __forceinline__ void rms_norm_body(const T* x, const float* __restrict__ weight, T* out, int columns, float epsilon) {
    KILN_TRACE_SCOPE(kTraceRMSNorm);
    kiln_wait_prerequisites();
    __shared__ float scratch[32];
    const long long row = blockIdx.x;
    const T* input = x + row * columns;
    T* output = out + row * columns;
    float sum = 0.0f;
    for (int i = threadIdx.x; i < columns; i += blockDim.x) {
        const float value = to_float(input[i]);
        sum += value * value;
    }
    sum = block_sum(sum, scratch);
    const float inverse = 1.0f / sqrtf(sum / (float)columns + epsilon);
    for (int i = threadIdx.x; i < columns; i += blockDim.x) output[i] = from_float<T>(to_float(input[i]) * inverse * weight[i]);
}

// Residual add fused with the next norm: residual += x (stored), then out = RMSNorm(residual)
// computed from the stored (rounded) residual, so it equals the unfused pair exactly.
// residual, x, out: [rows, columns]. Each thread re-reads only elements it wrote itself.
// Rows of at most kHeld * blockDim.x columns (every launch CUDAKernels.addRMSNorm makes up to
// 8192 columns: 1024 threads) keep their values in registers: the norm weight is loaded before the wait for the
// previous kernel (norm weights are never written by a kernel, so this is safe with programmatic
// launch and takes one L2 round trip off the critical path), and the output is formed from the
// registers instead of re-reading the stored residual.
constexpr int kHeld = 8;
template <typename T>
__device__ __forceinline__ void add_rms_norm_body(T* __restrict__ residual, const T* __restrict__ x, const float* __restrict__ weight,
                                                  T* __restrict__ out, int columns, float epsilon) {
    KILN_TRACE_SCOPE(kTraceAddRMSNorm);
    __shared__ float scratch[32];
    const long long row = blockIdx.x;
    T* sum_row = residual + row * columns;
    const T* input = x + row * columns;
    T* output = out + row * columns;
    if (columns <= kHeld * (int)blockDim.x) {
        float scale[kHeld], value[kHeld];
        #pragma unroll
        for (int j = 0; j < kHeld; ++j) {
            const int i = threadIdx.x + j * blockDim.x;
            scale[j] = i < columns ? weight[i] : 0.0f;
        }
        kiln_wait_prerequisites();
        float sum = 0.0f;
        #pragma unroll
        for (int j = 0; j < kHeld; ++j) {
            const int i = threadIdx.x + j * blockDim.x;
            if (i < columns) {
                const T stored = from_float<T>(to_float(sum_row[i]) + to_float(input[i]));
                sum_row[i] = stored;
                value[j] = to_float(stored);
                sum += value[j] * value[j];
            }
        }
        sum = block_sum(sum, scratch);
        const float inverse = 1.0f / sqrtf(sum / (float)columns + epsilon);
        #pragma unroll
        for (int j = 0; j < kHeld; ++j) {
            const int i = threadIdx.x + j * blockDim.x;
            if (i < columns) output[i] = from_float<T>(value[j] * inverse * scale[j]);
        }
        return;
    }
    kiln_wait_prerequisites();
    // No aliasing (the three tensors are distinct), so the loads of every pass can be in flight
    // together instead of one per store to the residual.
    float sum = 0.0f;
    #pragma unroll 4
    for (int i = threadIdx.x; i < columns; i += blockDim.x) {
        const T stored = from_float<T>(to_float(sum_row[i]) + to_float(input[i]));
        sum_row[i] = stored;
        const float value = to_float(stored);
        sum += value * value;
    }
    sum = block_sum(sum, scratch);
    const float inverse = 1.0f / sqrtf(sum / (float)columns + epsilon);
    for (int i = threadIdx.x; i < columns; i += blockDim.x) output[i] = from_float<T>(to_float(sum_row[i]) * inverse * weight[i]);
}

// bf16 rows of columns % 8 == 0 and at most 8 * blockDim.x columns, 8 elements a thread moved as
// one 16-byte load or store (the scalar kernels above issue eight 2-byte accesses a tensor, which
// held prefill's [8192, 2048] add_rms_norm to ~130 us against ~45 us of traffic on an H100).
// Same arithmetic per element as the kernels above (only the order of the block's sum of squares
// differs). blockDim.x = columns / 8 rounded up to a warp; grid.x = rows. (kiln_unpack_bf16x8,
// their load side, is in kiln_common.cuh, shared with argmax.cu.)
// Rounds with from_float (Kiln's rounding, NaN kept as the host does), element 0 in the low half.
__device__ __forceinline__ uint4 kiln_pack_bf16x8(const float (&value)[8]) {
    unsigned words[4];
    #pragma unroll
    for (int j = 0; j < 4; ++j)
        words[j] = (unsigned)from_float<bf16>(value[2 * j]).bits | ((unsigned)from_float<bf16>(value[2 * j + 1]).bits << 16);
    return make_uint4(words[0], words[1], words[2], words[3]);
}
__device__ __forceinline__ void kiln_load_weight8(const float* __restrict__ weight, float (&scale)[8]) {
    const float4 low = *reinterpret_cast<const float4*>(weight), high = *reinterpret_cast<const float4*>(weight + 4);
    scale[0] = low.x; scale[1] = low.y; scale[2] = low.z; scale[3] = low.w;
    scale[4] = high.x; scale[5] = high.y; scale[6] = high.z; scale[7] = high.w;
}

// The vec8 kernels' ending: the block's sum of squares (every thread calls it), then this thread's
// 8 outputs value * inverse * scale stored at `out` (its group of the row) when `active`.
__device__ __forceinline__ void rms_norm_store8(float (&value)[8], const float (&scale)[8], float sum, bool active, bf16* out,
                                                int columns, float epsilon, float* scratch) {
    sum = block_sum(sum, scratch);
    const float inverse = 1.0f / sqrtf(sum / (float)columns + epsilon);
    if (active) {
        #pragma unroll
        for (int j = 0; j < 8; ++j) value[j] = value[j] * inverse * scale[j];
        *reinterpret_cast<uint4*>(out) = kiln_pack_bf16x8(value);
    }
}

extern "C" __global__ void rms_norm_bf16_vec8(const bf16* x, const float* __restrict__ weight, bf16* out, int columns, float epsilon) {
    KILN_TRACE_SCOPE(kTraceRMSNorm);
    __shared__ float scratch[32];
    const long long row = blockIdx.x;
    const int i = threadIdx.x * 8;
    const bool active = i < columns;
    float scale[8] = {}, value[8] = {};
    if (active) kiln_load_weight8(weight + i, scale);
    kiln_wait_prerequisites();
    float sum = 0.0f;
    if (active) {
        kiln_unpack_bf16x8(*reinterpret_cast<const uint4*>(x + row * columns + i), value);
        #pragma unroll
        for (int j = 0; j < 8; ++j) sum += value[j] * value[j];
    }
    rms_norm_store8(value, scale, sum, active, out + row * columns + i, columns, epsilon, scratch);
}

extern "C" __global__ void add_rms_norm_bf16_vec8(bf16* __restrict__ residual, const bf16* __restrict__ x,
                                                  const float* __restrict__ weight, bf16* __restrict__ out, int columns,
                                                  float epsilon) {
    KILN_TRACE_SCOPE(kTraceAddRMSNorm);
    __shared__ float scratch[32];
    const long long row = blockIdx.x;
    const int i = threadIdx.x * 8;
    const bool active = i < columns;
    float scale[8] = {}, value[8] = {};
    if (active) kiln_load_weight8(weight + i, scale);  // never written by a kernel: safe before the wait
    kiln_wait_prerequisites();
    float sum = 0.0f;
    if (active) {
        float added[8];
        kiln_unpack_bf16x8(*reinterpret_cast<const uint4*>(residual + row * columns + i), value);
        kiln_unpack_bf16x8(*reinterpret_cast<const uint4*>(x + row * columns + i), added);
        #pragma unroll
        for (int j = 0; j < 8; ++j) {
            value[j] = to_float(from_float<bf16>(value[j] + added[j]));  // the stored (rounded) residual
            sum += value[j] * value[j];
        }
        *reinterpret_cast<uint4*>(residual + row * columns + i) = kiln_pack_bf16x8(value);
    }
    rms_norm_store8(value, scale, sum, active, out + row * columns + i, columns, epsilon, scratch);
}

// QK-norm: RMSNorm of each head in place, one warp per (row, head).
// x: [rows, rowStride] with heads of headDim at the start of each row; weight: [headDim].
// grid.x * blockDim.x / 32 >= rows * heads.
template <typename T>
__device__ __forceinline__ void head_rms_norm_body(T* x, const float* __restrict__ weight, int rows, int heads, int headDim,
                                                   int rowStride, float epsilon) {
    const long long item = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (item >= (long long)rows * heads) return;  // whole warps leave together
    const long long row = item / heads;
    const int head = (int)(item - row * heads);
    T* vector = x + row * rowStride + (long long)head * headDim;
    float sum = 0.0f;
    for (int i = lane; i < headDim; i += 32) {
        const float value = to_float(vector[i]);
        sum += value * value;
    }
    sum = warp_sum(sum);
    const float inverse = 1.0f / sqrtf(sum / (float)headDim + epsilon);
    for (int i = lane; i < headDim; i += 32) vector[i] = from_float<T>(to_float(vector[i]) * inverse * weight[i]);
}

#define KILN_NORMS(T, SUFFIX)                                                                                       \
    extern "C" __global__ void rms_norm_##SUFFIX(const T* x, const float* weight, T* out, int columns, float epsilon) { \
        rms_norm_body<T>(x, weight, out, columns, epsilon);                                                         \
    }                                                                                                               \
    extern "C" __global__ void add_rms_norm_##SUFFIX(T* residual, const T* x, const float* weight, T* out,           \
                                                     int columns, float epsilon) {                                  \
        add_rms_norm_body<T>(residual, x, weight, out, columns, epsilon);                                           \
    }                                                                                                               \
    extern "C" __global__ void head_rms_norm_##SUFFIX(T* x, const float* weight, int rows, int heads, int headDim,  \
                                                      int rowStride, float epsilon) {                               \
        head_rms_norm_body<T>(x, weight, rows, heads, headDim, rowStride, epsilon);                                 \
    }

KILN_NORMS(float, f32)
KILN_NORMS(bf16, bf16)
