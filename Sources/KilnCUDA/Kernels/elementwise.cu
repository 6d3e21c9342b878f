// Elementwise kernels over [rows, columns] activations, grid-stride loops.
// CPU twins: CPUBackend.gatedActivation, .softcap, .add.
#include "kiln_common.cuh"

// out = act(gate) * up. Each operand has its own row stride, so gate and up may be the two
// halves of one fused gate/up projection ([rows, 2 * columns], up at gate + columns).
// Activation 0: SiLU, g * sigmoid(g) (SwiGLU). 1: GELU, tanh approximation (GeGLU).
// grid = (ceil(columns / (blockDim.x * 8)), rows): row blockIdx.y, 8 adjacent columns a thread
// (no 64-bit division per element: the earlier grid-stride form ran at 0.2 TB/s on an H100).
template <typename T, int Activation>
__device__ __forceinline__ void gated_body(const T* gate, const T* up, T* out, int rows, int columns,
                                           int gateStride, int upStride, int outStride) {
    const long long row = blockIdx.y;
    const int first = (blockIdx.x * blockDim.x + threadIdx.x) * 8;
    const T* gateRow = gate + row * gateStride;
    const T* upRow = up + row * upStride;
    T* outRow = out + row * outStride;
    #pragma unroll
    for (int j = 0; j < 8; j++) {
        const int column = first + j;
        if (column >= columns) break;
        const float g = to_float(gateRow[column]);
        const float u = to_float(upRow[column]);
        float value;
        if (Activation == 0) {
            value = g / (1.0f + expf(-g)) * u;
        } else {
            const float inner = 0.7978845608028654f * (g + 0.044715f * g * g * g);
            value = 0.5f * g * (1.0f + tanhf(inner)) * u;
        }
        outRow[column] = from_float<T>(value);
    }
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
