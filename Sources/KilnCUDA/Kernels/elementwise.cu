// Elementwise kernels over [rows, columns] activations, grid-stride loops.
// CPU twins: CPUBackend.gatedActivation, .softcap, .add.
#include "kiln_common.cuh"

// out = act(gate) * up. Each operand has its own row stride, so gate and up may be the two
// halves of one fused gate/up projection ([rows, 2 * columns], up at gate + columns).
// Activation 0: SiLU, g * sigmoid(g) (SwiGLU). 1: GELU, tanh approximation (GeGLU).
// grid = (ceil(columns / (blockDim.x * 8)), rows): row blockIdx.y, 8 adjacent columns a thread,
// all loads issued before any arithmetic (16-byte loads when the rows allow): a loop that checked
// the row's end between loads kept one load in flight per thread (15 us for [64, 16384] on an H100).
template <int Activation>
__device__ __forceinline__ float gated_value(float g, float u) {
    return kiln_gated_activation<Activation + 1>(g) * u;
}

__device__ __forceinline__ void load8(const float* p, float (&v)[8]) {
    const float4 a = *reinterpret_cast<const float4*>(p), b = *reinterpret_cast<const float4*>(p + 4);
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
}
__device__ __forceinline__ void load8(const bf16* p, float (&v)[8]) {
    const uint4 raw = *reinterpret_cast<const uint4*>(p);
    const unsigned words[4] = {raw.x, raw.y, raw.z, raw.w};
    #pragma unroll
    for (int i = 0; i < 4; i++) {
        v[2 * i] = __uint_as_float(words[i] << 16);
        v[2 * i + 1] = __uint_as_float(words[i] & 0xffff0000u);
    }
}
__device__ __forceinline__ void store8(float* p, const float (&v)[8]) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
    *reinterpret_cast<float4*>(p + 4) = make_float4(v[4], v[5], v[6], v[7]);
}
__device__ __forceinline__ void store8(bf16* p, const float (&v)[8]) {
    unsigned words[4];
    #pragma unroll
    for (int i = 0; i < 4; i++) words[i] = (unsigned)from_float<bf16>(v[2 * i]).bits | ((unsigned)from_float<bf16>(v[2 * i + 1]).bits << 16);
    *reinterpret_cast<uint4*>(p) = make_uint4(words[0], words[1], words[2], words[3]);
}

template <typename T, int Activation>
__device__ __forceinline__ void gated_body(const T* __restrict__ gate, const T* __restrict__ up, T* __restrict__ out, int rows,
                                           int columns, int gateStride, int upStride, int outStride) {
    KILN_TRACE_SCOPE(kTraceGated);
    kiln_wait_prerequisites();
    const long long row = blockIdx.y;
    const int first = (blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (first >= columns) return;
    const T* gateRow = gate + row * gateStride + first;
    const T* upRow = up + row * upStride + first;
    T* outRow = out + row * outStride + first;
    // 16-byte accesses need 16-byte aligned rows: every stride (and the bases, 256-aligned
    // allocations or halves of an aligned row) a multiple of 8 elements for bf16, 4 for fp32.
    const int vector = sizeof(T) == 2 ? 8 : 4;
    const bool aligned = first + 8 <= columns && gateStride % vector == 0 && upStride % vector == 0 && outStride % vector == 0
        && ((unsigned long long)gateRow & 15) == 0 && ((unsigned long long)upRow & 15) == 0 && ((unsigned long long)outRow & 15) == 0;
    if (aligned) {
        float g[8], u[8], v[8];
        load8(gateRow, g);
        load8(upRow, u);
        #pragma unroll
        for (int j = 0; j < 8; j++) v[j] = gated_value<Activation>(g[j], u[j]);
        store8(outRow, v);
        return;
    }
    const int count = min(8, columns - first);
    float g[8], u[8];
    #pragma unroll
    for (int j = 0; j < 8; j++) {
        g[j] = j < count ? to_float(gateRow[j]) : 0.0f;
        u[j] = j < count ? to_float(upRow[j]) : 0.0f;
    }
    #pragma unroll
    for (int j = 0; j < 8; j++)
        if (j < count) outRow[j] = from_float<T>(gated_value<Activation>(g[j], u[j]));
}

// x = cap * tanh(x / cap), in place over count elements (Gemma 2 logit soft-capping).
template <typename T>
__device__ __forceinline__ void softcap_body(T* x, long long count, float cap) {
    for (long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x; index < count;
         index += (long long)gridDim.x * blockDim.x) {
        x[index] = from_float<T>(cap * tanhf(to_float(x[index]) / cap));
    }
}

// accumulator += x over count elements (the residual add when it is not fused with a norm).
template <typename T>
__device__ __forceinline__ void add_body(const T* __restrict__ x, T* accumulator, long long count) {
    for (long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x; index < count;
         index += (long long)gridDim.x * blockDim.x) {
        accumulator[index] = from_float<T>(to_float(accumulator[index]) + to_float(x[index]));
    }
}

#define KILN_ELEMENTWISE(T, SUFFIX)                                                                                  \
    extern "C" __global__ void gated_silu_##SUFFIX(const T* gate, const T* up, T* out, int rows, int columns,         \
                                                   int gateStride, int upStride, int outStride) {                    \
        gated_body<T, 0>(gate, up, out, rows, columns, gateStride, upStride, outStride);                             \
    }                                                                                                                \
    extern "C" __global__ void gated_gelu_tanh_##SUFFIX(const T* gate, const T* up, T* out, int rows, int columns,    \
                                                        int gateStride, int upStride, int outStride) {               \
        gated_body<T, 1>(gate, up, out, rows, columns, gateStride, upStride, outStride);                             \
    }                                                                                                                \
    extern "C" __global__ void softcap_##SUFFIX(T* x, long long count, float cap) { softcap_body<T>(x, count, cap); } \
    extern "C" __global__ void add_##SUFFIX(const T* x, T* accumulator, long long count) {                           \
        add_body<T>(x, accumulator, count);                                                                          \
    }

KILN_ELEMENTWISE(float, f32)
KILN_ELEMENTWISE(bf16, bf16)
