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
