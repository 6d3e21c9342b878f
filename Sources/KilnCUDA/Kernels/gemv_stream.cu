// Row-streaming matrix-vector products for batch 1: y[n] = sum_k x[k] * W[n, k] (+ bias[n]), and
// the fused gate/up form y[n] = act(gate_n . x) * (up_n . x). CPU twin: CPUBackend.linear (and
// .gatedActivation on the two halves for gate/up), as for gemv.cu, whose ABI these kernels share
// (README-gemv.md, "Row-streaming kernels").
//
// Why a second GEMV. gemv.cu feeds mma.sync straight from global loads, so the four lanes that
// share a weight row can only cover 64 contiguous bytes of it per load instruction: a warp's load
// touches 16 rows. `kiln bench memory` on an H100 (bench/results/issue4-session12-2026-11-28.txt)
// reads 1000 MiB at 3.17 TB/s when each load instruction covers 512 contiguous bytes (16 KiB a
// block) and at 3.08 TB/s in gemv.cu's order; the LM head GEMV takes 358.7 us there (2.92 TB/s).
// Here a warp reads 512 contiguous bytes of ONE row per load instruction (lane l: 16-byte word
// 32u + l of the segment) and does the dot product on the CUDA cores in fp32: at batch 1 that is
// 8 FMAs per 16 bytes, far below the SM's rate.
//
// Work split (all from blockDim, K and UNROLL; CUDABackend.streamGEMVLayout mirrors it):
//   rowWords = K / 8 (16-byte words of a row); a segment is 32 * UNROLL words (one word a lane a
//   load, UNROLL loads in flight a lane); segments = ceil(rowWords / (32 * UNROLL)).
//   rowsPerItem = 1 (plain) or 2 (gate row n and up row mlp + n); warps = blockDim.x / 32.
//   warpsPerRow = the largest power of two <= min(warps / rowsPerItem, segments);
//   itemsPerBlock = warps / (warpsPerRow * rowsPerItem); block b takes items
//   [b * itemsPerBlock, (b + 1) * itemsPerBlock) (grid = ceil(items / itemsPerBlock)).
//   Warp w takes block row w / warpsPerRow (plain: item; gate/up: gate rows of the block's items
//   first, then their up rows, so each half is one contiguous stretch of W) and segments
//   w % warpsPerRow, + warpsPerRow, ...
// Sums: each warp's lanes add in a fixed butterfly; a row's warps are added in warp order by the
// item's thread: the same inputs give the same bits.
// Requirements (host-checked in CUDABackend.gemv): batch == 1, K % 8 == 0, W and x 16-byte aligned,
// blockDim.x a power of two from 64 to 512 (warps >= 2 so that a gate/up item has a warp a row).
// Programmatic dependent launch (sm_90): launch_dependents at entry, the first segment's weights
// loaded before griddepcontrol.wait, x after it (weights are never written by a step).
#include "kiln_common.cuh"

// acc += the dot product of 8 bf16 weights and 8 bf16 inputs, in element order (each 32-bit word
// holds two: the low half is the even element; bf16 -> fp32 is a 16-bit shift). Unpacked a pair
// at a time rather than through kiln_unpack_bf16x8: the same sums, and the schedule measured.
__device__ __forceinline__ float gemv_stream_dot8(float acc, uint4 w, uint4 x) {
    const unsigned ws[4] = {w.x, w.y, w.z, w.w}, xs[4] = {x.x, x.y, x.z, x.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        acc = fmaf(__uint_as_float(ws[i] << 16), __uint_as_float(xs[i] << 16), acc);
        acc = fmaf(__uint_as_float(ws[i] & 0xFFFF0000u), __uint_as_float(xs[i] & 0xFFFF0000u), acc);
    }
    return acc;
}

// Mode 0: plain (N rows, optional fp32 bias). Mode 1 / 2: gate/up with SiLU / GELU (N = mlp).
template <int Mode, int UNROLL, typename Out>
__device__ __forceinline__ void gemv_stream(const bf16* __restrict__ weight, const bf16* __restrict__ x,
                                            const float* __restrict__ bias, Out* __restrict__ y, int N, int K) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
    __shared__ float warpSums[16];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const int rowWords = K >> 3;
    const int segmentWords = 32 * UNROLL;
    const int segments = (rowWords + segmentWords - 1) / segmentWords;
    const int rowsPerItem = Mode == 0 ? 1 : 2;
    int warpsPerRow = 1;
    while (2 * warpsPerRow <= warps / rowsPerItem && 2 * warpsPerRow <= segments) warpsPerRow *= 2;
    const int itemsPerBlock = warps / (warpsPerRow * rowsPerItem);
    const int blockRow = warp / warpsPerRow;
    const int item = blockIdx.x * itemsPerBlock + (Mode == 0 ? blockRow : blockRow % itemsPerBlock);
    const bool live = item < N;
    const long long row = Mode == 0 || blockRow < itemsPerBlock ? item : (long long)N + item;
    const uint4* rowWeights = reinterpret_cast<const uint4*>(weight) + row * rowWords;
    const uint4* input = reinterpret_cast<const uint4*>(x);

    float acc = 0.0f;
    int segment = warp % warpsPerRow;
    uint4 w[UNROLL];
    auto loadFirst = [&]() {
        if (live && segment < segments) {
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const int word = segment * segmentWords + 32 * u + lane;
                w[u] = word < rowWords ? kiln_load_stream_16(rowWeights + word) : make_uint4(0u, 0u, 0u, 0u);
            }
        }
    };
    // The first segment's weights, before waiting for the kernel that writes x (after it with
    // KILN_GEMV_NO_PRELOAD, as gemv.cu, for A/B timing).
#ifndef KILN_GEMV_NO_PRELOAD
    loadFirst();
#endif
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
    KILN_TRACE_WAITED();
#ifdef KILN_GEMV_NO_PRELOAD
    loadFirst();
#endif
    if (live) {
        for (; segment < segments; segment += warpsPerRow) {
            const int next = segment + warpsPerRow;
            uint4 xs[UNROLL];
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const int word = segment * segmentWords + 32 * u + lane;
                xs[u] = word < rowWords ? kiln_load_readonly_16(input + word) : make_uint4(0u, 0u, 0u, 0u);
            }
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) acc = gemv_stream_dot8(acc, w[u], xs[u]);
            // The next segment's weights after this one's FMAs. (Loading them before, two
            // segments in flight, was timed as "_rd" kernels in session 12 and never won: down
            // stayed on rs2, 26.3 us.)
            if (next < segments) {
#pragma unroll
                for (int u = 0; u < UNROLL; ++u) {
                    const int word = next * segmentWords + 32 * u + lane;
                    w[u] = word < rowWords ? kiln_load_stream_16(rowWeights + word) : make_uint4(0u, 0u, 0u, 0u);
                }
            }
        }
    }
    acc = warp_sum(acc);
    if (lane == 0) warpSums[warp] = acc;
    __syncthreads();
    const int t = threadIdx.x;
    if (t < itemsPerBlock) {
        const int n = blockIdx.x * itemsPerBlock + t;
        if (n < N) {
            float first = 0.0f;
            for (int j = 0; j < warpsPerRow; ++j) first += warpSums[t * warpsPerRow + j];
            if (Mode == 0) {
                kiln_store(y + n, first + (bias != nullptr ? bias[n] : 0.0f));
            } else {
                float second = 0.0f;
                for (int j = 0; j < warpsPerRow; ++j) second += warpSums[(itemsPerBlock + t) * warpsPerRow + j];
                kiln_store(y + n, kiln_gated_activation<Mode>(first) * second);
            }
        }
    }
}

// gemv.cu's parameter lists; batch, ldx, ldy, workspace and counters are not used (batch 1).
#define GEMV_STREAM_KERNELS(U)                                                                                         \
    extern "C" __global__ void __launch_bounds__(512) gemv_bf16_rs##U(                                                 \
        const bf16* weight, const bf16* x, const float* bias, bf16* y, int N, int K, int batch, int ldx, int ldy,      \
        float4* workspace, unsigned* counters) {                                                                       \
        gemv_stream<0, U, bf16>(weight, x, bias, y, N, K);                                                             \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(512) gemv_bf16_f32_rs##U(                                             \
        const bf16* weight, const bf16* x, const float* bias, float* y, int N, int K, int batch, int ldx, int ldy,     \
        float4* workspace, unsigned* counters) {                                                                       \
        gemv_stream<0, U, float>(weight, x, bias, y, N, K);                                                            \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(512) gemv_gateup_silu_bf16_rs##U(                                     \
        const bf16* weight, const bf16* x, bf16* y, int mlp, int K, int batch, int ldx, int ldy, float4* workspace,    \
        unsigned* counters) {                                                                                          \
        gemv_stream<1, U, bf16>(weight, x, nullptr, y, mlp, K);                                                        \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(512) gemv_gateup_gelu_bf16_rs##U(                                     \
        const bf16* weight, const bf16* x, bf16* y, int mlp, int K, int batch, int ldx, int ldy, float4* workspace,    \
        unsigned* counters) {                                                                                          \
        gemv_stream<2, U, bf16>(weight, x, nullptr, y, mlp, K);                                                        \
    }

GEMV_STREAM_KERNELS(2)
GEMV_STREAM_KERNELS(4)
GEMV_STREAM_KERNELS(8)
