// Skinny matrix products with the batch rows as the tensor-core A operand and the weights as B
// ("swapped" against skinny_gemm.cu): y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]) and the fused
// gate/up form y[m, j] = act(gate_j . x_m) * (up_j . x_m), for 9..64 activation rows a batch tile.
// CPU twin: CPUBackend.linear (gate/up: .linear on each half, then .gatedActivation). sm_90a only
// (wgmma and bulk tensor copies); elsewhere the kernels trap and the host never launches them.
// ABI: README-skinny-gemm.md ("Swapped operands").
//
// Why: skinny_gemm.cu gives wgmma the weights as A, so a block holds whole 64-row warpgroup tiles
// and Gemma-2B's small products get few blocks (qkv [2560, 2048]: 40), each a serial chain of
// 32 stages; measured 11-13 us where cuBLASLt takes 5-6 (README-skinny-gemm.md). cuBLASLt's kernels
// for these shapes are named like 24 x 64 tiles with 12-16 stages. Here wgmma.m64nBNk16 takes the
// (up to) 64 batch rows as A and BN = 16..128 weight rows as B, so qkv can run as 107 blocks of
// 24 rows, each with a deep ring of small stages (24 x 128 bytes of weights + 8 KB of x).
//
// A block is C = 1, 2 or 4 consumer warpgroups (warps 0-3, 4-7, ...) and one producer warp after them:
//   - the ring has `stages` slots (a kernel parameter, sized by the host to the shared memory it
//     gives), each x's 64 rows x 64 k (8 KB) then the weights' BN rows x 64 k (BN x 128 bytes),
//     both 128-byte swizzled, K-major, as wgmma's descriptors read them; a full and an empty
//     mbarrier per slot follow the ring;
//   - the producer's lane 0 fills slot s with two bulk tensor copies (gate/up: three, the gate rows
//     then their up rows) and arms its full barrier with the stage's bytes; the weights of the
//     first `stages` stages go out before griddepcontrol.wait (weights are never written by a
//     step), x's after it; later it waits on the slot's empty barrier before refilling;
//   - a consumer warpgroup waits on the full barrier, issues four wgmma.m64nBNk16 (one per 16 k),
//     waits for them (wgmma.wait_group 0), and each warp's lane 0 arrives on the stage's empty
//     barrier at once (4 arrivals free a slot);
//     with C consumer warpgroups (`_c2`, `_c4`) warpgroup c takes stages c, c + C, ... into its
//     own accumulators, and they are added at the end through shared memory (H200, session 15:
//     with one warpgroup waiting for every stage's group, a stage took ~150-220 ns whatever the
//     ring's depth; two took qkv from 11.6 to 8.0 us);
//   - multicast (the `multicast` parameter P = 2 or 4, whole K only): P neighbouring blocks form a
//     cluster (P, 1, 1) and each copies 64 / P rows of every stage's x box into all P rings
//     (cp.async.bulk.tensor .multicast::cluster), so x leaves L2 once a cluster: x is re-read by
//     every block otherwise, 256 KB a block for K = 2048 against its 48-96 KB of weights; a slot
//     is then free once the consumers of all P blocks arrive on its empty barrier (4P arrivals);
//   - split-K (gridDim.y = S > 1): the S blocks of a tile form a cluster (1, S, 1), stage their
//     fp32 partial tiles and sum them through distributed shared memory (skinny_store_tile); or
//     (plain products, `partials` given) they write them to an fp32 workspace and
//     skinny_gemm_reduce_* adds them, with no cluster and up to 16 slices;
//     without it the accumulators go straight to y (thread: rows 16w + lane/4 (+8), weight
//     columns 8j + 2 (lane % 4) (+1)).
#include "skinny_common.cuh"

namespace {

constexpr int kSwapK = 64;        // k per stage: 128 bytes a row
constexpr int kSwapRows = 64;     // batch rows a tile: wgmma's M

#ifdef KILN_SKINNY_USES_WGMMA
__device__ __forceinline__ void swap_barrier_arrive(unsigned barrier) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(barrier) : "memory");
}
// Arrives on the mbarrier at the same shared-memory offset in block `rank` of the cluster, with
// release at cluster scope (the waiting producer is in another block).
__device__ __forceinline__ void swap_barrier_arrive_remote(unsigned barrier, unsigned rank) {
    asm volatile("{\n\t.reg .b32 remote;\n\tmapa.shared::cluster.u32 remote, %0, %1;\n\tmbarrier.arrive.release.cluster.shared::cluster.b64 _, [remote];\n\t}"
                 ::"r"(barrier), "r"(rank) : "memory");
}
// A 2-D box into the same shared-memory offset of every block in `mask` (cluster ranks), each
// block's mbarrier at `barrier`'s offset counting the bytes it receives.
__device__ __forceinline__ void swap_tma_load_multicast(unsigned destination, const SkinnyTensorMap* map, int k, int row, unsigned barrier,
                                                        unsigned short mask) {
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster [%0], [%1, {%2, %3}], [%4], %5;"
                 ::"r"(destination), "l"(map), "r"(k), "r"(row), "r"(barrier), "h"(mask) : "memory");
}

// Mode 0: plain (N = W's rows, optional fp32 bias); 1 / 2: gate/up with SiLU / GELU-tanh (N = mlp,
// W [2N, K] with the gate rows first, BN / 2 outputs a block).
template <int BN, int Consumers, int Mode, typename OutT>
__device__ __forceinline__ void swap_body(const float* __restrict__ bias, OutT* __restrict__ y, int N, int K, int M, int ldy,
                                          const SkinnyTensorMap* weightMap, const SkinnyTensorMap* inputMap, int stages,
                                          int multicast, float* __restrict__ partials) {
    constexpr int InputBytes = kSwapRows * 128, WeightBytes = BN * 128, StageBytes = InputBytes + WeightBytes;
    constexpr int OutColumns = Mode == 0 ? BN : BN / 2;
    constexpr int ProducerWarp = 4 * Consumers, Threads = 128 * Consumers + 32;
    static_assert(BN % 8 == 0 && BN <= 256 && (Mode == 0 || BN % 16 == 0), "wgmma N: a multiple of 8 (gate/up: halves of 8)");
    static_assert(Consumers == 1 || Consumers == 2 || Consumers == 4, "one, two or four consumer warpgroups");
    extern __shared__ __align__(1024) unsigned char skinnyShared[];  // the swizzle pattern is anchored at 1,024 bytes

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, consumer = warp >> 2;
    const int splits = gridDim.y, split = blockIdx.y;
    const int mBase = blockIdx.z * kSwapRows, columnBase = blockIdx.x * OutColumns;
    const int steps = (K + kSwapK - 1) / kSwapK;
    const int perSplit = (steps + splits - 1) / splits;
    const int kBegin = min(steps, split * perSplit), count = min(steps, kBegin + perSplit) - kBegin;
    const unsigned ring = skinny_shared_address(skinnyShared);
    const unsigned full = ring + stages * StageBytes, empty = full + 8 * stages;
    // Multicast (cluster (P, 1, 1), P = multicast > 1): block r of the cluster copies rows
    // r * 64 / P .. of each stage's x box into the same slot of all P blocks, so x leaves L2 once
    // a cluster instead of once a block; a slot is then free only once all P blocks consumed it.
    const unsigned rank = multicast > 1 ? skinny_cluster_rank() : 0u;
    // C consumer warpgroups need a ring of a multiple of C slots: then slot s is always consumed by
    // warpgroup s % C, which waits on its full barrier one phase at a time. Otherwise another
    // warpgroup could wait on phase k + 1 while phase k is still filling, and a parity wait cannot
    // tell them apart (found on the H200 in session 15: a 7-slot _c2 launch failed).
    // And the launch shapes the host guarantees (SkinnyGEMMChoice): trap rather than spin on them.
    if (stages < 2 || stages % Consumers != 0 || (multicast != 1 && multicast != 2 && multicast != 4)
        || (multicast > 1 && (splits > 1 || gridDim.x % multicast != 0)) || (partials != nullptr && (Mode != 0 || splits < 2)))
        __trap();

    if (tid == 0) {
        for (int s = 0; s < stages; ++s) {
            skinny_barrier_init(full + 8 * s, 1);
            skinny_barrier_init(empty + 8 * s, 4 * multicast);  // one arrival per consumer warp of each block
        }
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    }
    if (multicast > 1) {
        skinny_cluster_sync();  // every block's barriers are set before a peer copies or arrives
    } else {
        __syncthreads();
    }

    float acc[BN / 2];
#pragma unroll
    for (int i = 0; i < BN / 2; ++i) acc[i] = 0.0f;

    if (warp == ProducerWarp) {
        if (lane == 0) {
            auto weights = [&](int slot, int s) {
                const unsigned base = ring + slot * StageBytes + InputBytes, barrier = full + 8 * slot;
                const int k = (kBegin + s) * kSwapK;
                if (Mode == 0) {
                    skinny_tma_load(base, weightMap, k, columnBase, barrier);
                } else {  // the gate rows in the slot's rows 0 .. BN/2 - 1, their up rows after them
                    skinny_tma_load(base, weightMap, k, columnBase, barrier);
                    skinny_tma_load(base + (BN / 2) * 128, weightMap, k, N + columnBase, barrier);
                }
            };
            const int partRows = kSwapRows / multicast;
            const unsigned short everyBlock = (unsigned short)((1u << multicast) - 1u);
            auto inputs = [&](int slot, int s) {
                const int k = (kBegin + s) * kSwapK;
                if (multicast > 1) {
                    swap_tma_load_multicast(ring + slot * StageBytes + rank * partRows * 128, inputMap, k, mBase + (int)rank * partRows,
                                            full + 8 * slot, everyBlock);
                } else {
                    skinny_tma_load(ring + slot * StageBytes, inputMap, k, mBase, full + 8 * slot);
                }
            };
            const int early = min(stages, count);
            for (int s = 0; s < early; ++s) {
                skinny_barrier_expect(full + 8 * s, StageBytes);
                weights(s, s);
            }
            kiln_wait_prerequisites();
            for (int s = 0; s < early; ++s) inputs(s, s);
            int slot = 0, round = 1;  // stage `it` uses slot it % stages, for the round-th time
            for (int it = stages; it < count; ++it) {
                // Consumed round - 1 times (with multicast, by the consumers of every block).
                if (multicast > 1) {
                    skinny_barrier_wait<true>(empty + 8 * slot, (unsigned)(round - 1) & 1u);
                } else {
                    skinny_barrier_wait(empty + 8 * slot, (unsigned)(round - 1) & 1u);
                }
                skinny_barrier_expect(full + 8 * slot, StageBytes);
                weights(slot, it);
                inputs(slot, it);
                if (++slot == stages) {
                    slot = 0;
                    ++round;
                }
            }
        } else {
            kiln_wait_prerequisites();
        }
        __syncwarp();
    } else {
        // Consumer warpgroup c takes stages c, c + C, ...; a stage's slot is freed as soon as its
        // products are done. (Keeping one wgmma group in flight and freeing the slot a stage later
        // was slower on the H200, session 15: qkv 10.0 against 7.3 us, down 63 against 44.)
        kiln_wait_prerequisites();
        // Slot and phase parity advance by C stages a step without a division (a runtime division
        // a stage cost ~100 cycles of latency on the consumers' critical path). C <= stages.
        int slot = consumer;
        unsigned parity = 0;
        for (int it = consumer; it < count; it += Consumers) {
            skinny_barrier_wait(full + 8 * slot, parity);
            const unsigned base = ring + slot * StageBytes;
            skinny_fence_operands<BN / 2>(acc);
            asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#pragma unroll
            for (int kk = 0; kk < kSwapK / 16; ++kk)
                skinny_wgmma<BN>(acc, skinny_descriptor(base + kk * 32), skinny_descriptor(base + InputBytes + kk * 32));
            asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
            asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
            skinny_fence_operands<BN / 2>(acc);
            __syncwarp();
            if (lane == 0) {
                if (multicast > 1) {
                    for (int q = 0; q < multicast; ++q) swap_barrier_arrive_remote(empty + 8 * slot, (unsigned)q);
                } else {
                    swap_barrier_arrive(empty + 8 * slot);
                }
            }
            slot += Consumers;
            if (slot >= stages) {
                slot -= stages;
                parity ^= 1u;
            }
        }
        if constexpr (Consumers > 1) {
            // The other warpgroups' sums join warpgroup 0's, in warpgroup order (deterministic):
            // thread i of each holds the same outputs.
            float* partial = reinterpret_cast<float*>(skinnyShared + stages * (StageBytes + 16));
            const int index = tid & 127;
            if (consumer > 0) {
#pragma unroll
                for (int i = 0; i < BN / 2; ++i) partial[((consumer - 1) * (BN / 2) + i) * 128 + index] = acc[i];
            }
            asm volatile("bar.sync 1, %0;" ::"n"(128 * Consumers) : "memory");
            if (consumer == 0) {
#pragma unroll
                for (int c = 1; c < Consumers; ++c)
#pragma unroll
                    for (int i = 0; i < BN / 2; ++i) acc[i] += partial[((c - 1) * (BN / 2) + i) * 128 + index];
            }
        }
    }

    // Warpgroup 0 holds the block's sums: this thread's rows row, row + 8.
    const int g = lane >> 2, t = lane & 3, row = (warp & 3) * 16 + g;
    if (splits == 1) {
        if (warp < 4) {
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            const int m = mBase + row + 8 * half;
            if (m >= M) continue;
            OutT* out = y + (long long)m * ldy + columnBase;
#pragma unroll
            for (int j = 0; j < (Mode == 0 ? BN / 8 : BN / 16); ++j) {
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const int c = 8 * j + 2 * t + e;
                    if (c >= OutColumns || columnBase + c >= N) continue;
                    float value = acc[4 * j + 2 * half + e];
                    if (Mode == 0) {
                        if (bias != nullptr) value += bias[columnBase + c];
                    } else {
                        value = kiln_gated_activation<Mode>(value) * acc[4 * (j + BN / 16) + 2 * half + e];
                    }
                    kiln_store(out + c, value);
                }
            }
        }
        }
        // No block leaves while a peer may still copy into its ring or arrive on its barriers.
        if (multicast > 1) skinny_cluster_sync();
        return;
    }
    // Split-K through a workspace (plain products): the slice's fp32 sums go to
    // partials[split][m][n] ([S, M, N]) and skinny_gemm_reduce_* adds the S slices. No cluster: any
    // S, and no block waits for another's place on the GPU (clusters of 8 blocks of ~220 KB each
    // timed 52.7 us for Gemma-2B's down at 64 rows on the H200, against 35.2 for clusters of 4).
    if (partials != nullptr) {
        if (warp < 4) {
#pragma unroll
            for (int half = 0; half < 2; ++half) {
                const int m = mBase + row + 8 * half;
                if (m >= M) continue;
                float* out = partials + ((long long)split * M + m) * N + columnBase;
#pragma unroll
                for (int j = 0; j < BN / 8; ++j) {
                    const int c = 8 * j + 2 * t;
                    if (columnBase + c + 1 < N) {  // N even (the host checks): the pair is whole or absent
                        *reinterpret_cast<float2*>(out + c) = make_float2(acc[4 * j + 2 * half], acc[4 * j + 2 * half + 1]);
                    } else if (columnBase + c < N) {
                        out[c] = acc[4 * j + 2 * half];
                    }
                }
            }
        }
        return;
    }
    // Split-K: every slot has been consumed (and so written): reuse the ring for the partial tile,
    // staged[weight row][batch row], pitch 65.
    __syncthreads();
    float* staged = reinterpret_cast<float*>(skinnyShared);
    constexpr int Pitch = kSwapRows + 1;
    if (warp < 4) {
#pragma unroll
        for (int j = 0; j < BN / 8; ++j) {
            const int n = 8 * j + 2 * t;
            staged[n * Pitch + row] = acc[4 * j];
            staged[(n + 1) * Pitch + row] = acc[4 * j + 1];
            staged[n * Pitch + row + 8] = acc[4 * j + 2];
            staged[(n + 1) * Pitch + row + 8] = acc[4 * j + 3];
        }
    }
    skinny_store_tile<BN, kSwapRows, Mode, true>(staged, bias, y, N, M, ldy, columnBase, mBase, tid, Threads);
}
#endif

}  // namespace

// Exported: skinny_gemm_{bf16, bf16_f32}_w<BN>[_c2|_c4] (BN 16, 24, 32, 48, 64, 128) and
// skinny_gemm_gateup_{silu, gelu}_bf16_w<BN>[_c2|_c4] (BN 16, 32, 48, 64, 128); `_c2` / `_c4`: two
// or four consumer warpgroups taking stages in turn. Parameters: those of skinny_gemm.cu's `_tma` kernels (weight
// and x pointers unused: the maps carry them; weight map box 64 k x BN rows, gate/up BN / 2; x map
// [M, K] with box 64 k x 64 / P rows), then `stages`, the ring's slots (>= 2; a multiple of C), and `multicast` P (1, 2
// or 4; P > 1 only with S = 1, launched as clusters of (P, 1, 1), grid.x a multiple of P), then `partials`: null, or
// (plain kernels, S > 1, N even) an fp32 workspace [S, M, N] that takes the slices' sums instead of a cluster
// reduction (no cluster launched; skinny_gemm_reduce_* then writes y). Block: 128 C + 32 threads.
// Dynamic shared memory: stages x (8,192 + 128 BN + 16) bytes, then (C - 1) x 256 BN (the other
// warpgroups' sums). Grid
// (ceil(N / BN) plain or ceil(mlp / (BN / 2)) gate/up, S, ceil(M / 64)), S > 1 as clusters of (1, S, 1).
#ifdef KILN_SKINNY_USES_WGMMA
#define KILN_SWAP_BODY(BN, C, MODE, OUT, BIAS) swap_body<BN, C, MODE, OUT>(BIAS, y, N, K, M, ldy, &weightMap, &inputMap, stages, multicast, partials);
#else
#define KILN_SWAP_BODY(BN, C, MODE, OUT, BIAS) __trap();
#endif
#define KILN_SWAP_PLAIN(NAME, OUT, BN, C)                                                                                \
    extern "C" __global__ void __launch_bounds__(128 * C + 32)                                                           \
        NAME(const bf16* weight, const bf16* x, const float* bias, OUT* y, int N, int K, int M, int ldx, int ldy,         \
             const __grid_constant__ SkinnyTensorMap weightMap, const __grid_constant__ SkinnyTensorMap inputMap, int stages, \
             int multicast, float* partials) { \
        KILN_TRACE_SCOPE(kTraceSkinnyGEMM);                                                                              \
        KILN_SWAP_BODY(BN, C, 0, OUT, bias)                                                                              \
    }
#define KILN_SWAP_GATED(NAME, MODE, BN, C)                                                                               \
    extern "C" __global__ void __launch_bounds__(128 * C + 32)                                                           \
        NAME(const bf16* weight, const bf16* x, bf16* y, int N, int K, int M, int ldx, int ldy,                           \
             const __grid_constant__ SkinnyTensorMap weightMap, const __grid_constant__ SkinnyTensorMap inputMap, int stages, \
             int multicast, float* partials) { \
        KILN_TRACE_SCOPE(kTraceSkinnyGEMM);                                                                              \
        KILN_SWAP_BODY(BN, C, MODE, bf16, nullptr)                                                                       \
    }
#define KILN_SWAP_PLAIN_SHAPES(BN)                                  \
    KILN_SWAP_PLAIN(skinny_gemm_bf16_w##BN, bf16, BN, 1)            \
    KILN_SWAP_PLAIN(skinny_gemm_bf16_f32_w##BN, float, BN, 1)       \
    KILN_SWAP_PLAIN(skinny_gemm_bf16_w##BN##_c2, bf16, BN, 2)       \
    KILN_SWAP_PLAIN(skinny_gemm_bf16_f32_w##BN##_c2, float, BN, 2)  \
    KILN_SWAP_PLAIN(skinny_gemm_bf16_w##BN##_c4, bf16, BN, 4)       \
    KILN_SWAP_PLAIN(skinny_gemm_bf16_f32_w##BN##_c4, float, BN, 4)
#define KILN_SWAP_GATED_SHAPES(BN)                                   \
    KILN_SWAP_GATED(skinny_gemm_gateup_silu_bf16_w##BN, 1, BN, 1)    \
    KILN_SWAP_GATED(skinny_gemm_gateup_gelu_bf16_w##BN, 2, BN, 1)    \
    KILN_SWAP_GATED(skinny_gemm_gateup_silu_bf16_w##BN##_c2, 1, BN, 2) \
    KILN_SWAP_GATED(skinny_gemm_gateup_gelu_bf16_w##BN##_c2, 2, BN, 2) \
    KILN_SWAP_GATED(skinny_gemm_gateup_silu_bf16_w##BN##_c4, 1, BN, 4) \
    KILN_SWAP_GATED(skinny_gemm_gateup_gelu_bf16_w##BN##_c4, 2, BN, 4)

KILN_SWAP_PLAIN_SHAPES(16)
KILN_SWAP_PLAIN_SHAPES(24)
KILN_SWAP_PLAIN_SHAPES(32)
KILN_SWAP_PLAIN_SHAPES(48)
KILN_SWAP_PLAIN_SHAPES(64)
KILN_SWAP_PLAIN_SHAPES(128)
KILN_SWAP_GATED_SHAPES(16)
KILN_SWAP_GATED_SHAPES(32)
KILN_SWAP_GATED_SHAPES(48)
KILN_SWAP_GATED_SHAPES(64)
KILN_SWAP_GATED_SHAPES(128)

// The workspace split-K's second pass: y[m, n] = sum over s of partials[s][m][n] (+ bias[n]), the
// slices added in order (deterministic). Four columns a thread (N a multiple of 4, the host
// checks); grid ceil(M * N / 4 / 256) blocks of 256 threads. CPU twin: CPUBackend.linear (with
// the product). It waits for its prerequisites (the partials) under programmatic launch.
template <typename OutT>
__device__ __forceinline__ void skinny_reduce_body(const float* __restrict__ partials, int splits, const float* __restrict__ bias,
                                                   OutT* __restrict__ y, int N, int M, int ldy) {
    kiln_wait_prerequisites();
    const long long quad = (long long)blockIdx.x * blockDim.x + threadIdx.x, count = (long long)M * N / 4;
    if (quad >= count) return;
    const long long index = quad * 4;
    const int m = (int)(index / N), n = (int)(index % N);
    float4 sum = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    for (int s = 0; s < splits; ++s) {
        const float4 v = *reinterpret_cast<const float4*>(partials + (long long)s * M * N + index);
        sum.x += v.x; sum.y += v.y; sum.z += v.z; sum.w += v.w;
    }
    if (bias != nullptr) {
        sum.x += bias[n]; sum.y += bias[n + 1]; sum.z += bias[n + 2]; sum.w += bias[n + 3];
    }
    OutT* out = y + (long long)m * ldy + n;
    kiln_store(out, sum.x);
    kiln_store(out + 1, sum.y);
    kiln_store(out + 2, sum.z);
    kiln_store(out + 3, sum.w);
}
extern "C" __global__ void __launch_bounds__(256) skinny_gemm_reduce_bf16(const float* partials, int splits, const float* bias, bf16* y, int N,
                                                                           int M, int ldy) {
    KILN_TRACE_SCOPE(kTraceSkinnyGEMM);
    skinny_reduce_body<bf16>(partials, splits, bias, y, N, M, ldy);
}
extern "C" __global__ void __launch_bounds__(256) skinny_gemm_reduce_f32(const float* partials, int splits, const float* bias, float* y, int N,
                                                                          int M, int ldy) {
    KILN_TRACE_SCOPE(kTraceSkinnyGEMM);
    skinny_reduce_body<float>(partials, splits, bias, y, N, M, ldy);
}
