// Skinny matrix products for batched decode: y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]) for
// 9..64 activation rows per batch tile (grid.z tiles cover more), every weight read once per batch
// tile. CPU twin: CPUBackend.linear (the gate/up kernels: .linear on the fused weight, then
// .gatedActivation on its two halves, computed from the fp32 sums and rounded once). ABI: README-skinny-gemm.md.
//
// Layouts. W: bf16 [rows, K] row-major, contiguous (row stride K); gate/up: [2 * N, K], gate rows
// first (the engine's fused layout). x: bf16 [M, ldx]. y: [M, ldy], bf16 or fp32 (logits).
// Requirements, checked by the host: K % 8 == 0, ldx % 8 == 0, W and x 16-byte aligned.
//
// Why not cuBLASLt: at M = 64 it read Gemma-2B's weights at 2.2-2.7 TB/s on an H100 (2.24 ms of a
// 2.81 ms step), its split-K needs a second pass, and the gated activation is another kernel over
// a [M, 2 * mlp] intermediate. Here a block owns BN weight rows and all MT batch rows of its tile:
//   - weights and x stream through a STAGES-deep cp.async ring in shared memory, 64 k a stage
//     (BN x 128 bytes + MT x 128 bytes), rows XOR-swizzled by 16-byte chunk so that ldmatrix and
//     the copies are free of bank conflicts;
//   - warp w computes weight rows 16w..16w+15 (the mma A operand, one ldmatrix.x4) against all MT
//     batch rows (the B operand, MT/16 ldmatrix.x4, MT/8 mma.m16n8k16 per 16 k, fp32 accumulate);
//   - gate/up: A tile t holds gate rows 8t..8t+7 in its rows 0-7 and the matching up rows in rows
//     8-15, so one block has both halves of its BN/2 outputs and the epilogue forms act(gate) * up;
//   - split-K (gridDim.y = S > 1, sm_90 only): the S blocks of a tile form one thread-block cluster
//     (launched with cluster dims (1, S, 1)), each takes a slice of K, stages its fp32 partial tile
//     in its own shared memory, and after a cluster barrier each block sums 1/S of the tile's
//     outputs over the S blocks (distributed shared memory, slices in order: deterministic) and
//     runs the epilogue. No workspace, no second launch.
// The epilogue stages the accumulators as [BN][MT + 1] fp32 in shared memory so that the stores of
// y are row-contiguous (consecutive threads, consecutive columns).
// Programmatic dependent launch (sm_90): the weight copies of the first STAGES - 1 stages are
// issued before griddepcontrol.wait (weights are never written by a step), x's after it.
#include "skinny_common.cuh"

namespace {

constexpr int kSkinnyStages = 4;  // cp.async ring depth
constexpr int kSkinnyK = 64;      // k per stage: 128 bytes, 8 chunks of 16 bytes per row

// 16 bytes global -> shared, bypassing L1; bytes = 0 writes zeros (k past the end). With a
// 256-byte L2 prefetch size, as gemv.cu's weight loads have: H100, Gemma-2B static batch 64,
// 20,088 and 20,557 output tokens/s against 19,705-20,208 without, in two calls (the gate/up +
// GELU product is the one the skinny kernel wins there). KILN_SKINNY_NO_L2_256B
// (KILN_KERNEL_DEFINES) compiles the plain copy, for A/B timing.
__device__ __forceinline__ void skinny_copy(unsigned destination, const void* source, int bytes) {
#ifndef KILN_SKINNY_NO_L2_256B
    asm volatile("cp.async.cg.shared.global.L2::256B [%0], [%1], 16, %2;" ::"r"(destination), "l"(source), "r"(bytes) : "memory");
#else
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(destination), "l"(source), "r"(bytes) : "memory");
#endif
}
__device__ __forceinline__ void skinny_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int Pending>
__device__ __forceinline__ void skinny_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(Pending) : "memory"); }

__device__ __forceinline__ void skinny_ldmatrix(unsigned (&r)[4], unsigned address) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(address));
}

// c += A * B with A as its four ldmatrix registers (kiln_mma_bf16_16816).
__device__ __forceinline__ void skinny_mma(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    kiln_mma_bf16_16816(c, a[0], a[1], a[2], a[3], b0, b1);
}

// Byte offset of 16-byte chunk `chunk` (0..7) of row `row` in a [rows][128 B] swizzled tile.
__device__ __forceinline__ unsigned skinny_swizzle(int row, int chunk) {
    return (unsigned)(row * 128 + ((chunk ^ (row & 7)) << 4));
}

// The gate/up kernels' activation (Mode 1 SiLU, 2 GELU-tanh) is kiln_gated_activation, and
// results are stored with kiln_store (kiln_common.cuh), as gemv.cu's.

// On sm_90a the stage's products run on Hopper's warpgroup tensor-core instruction instead of
// ldmatrix + mma.sync (session 11: H100, Gemma-2B static batch 64, 21,897-22,010 output tokens/s
// against 21,622-21,635 with mma.sync in the same calls; the timing then keeps this kernel for
// gate/up and the LM head, cuBLASLt for qkv, o and down). KILN_SKINNY_MMA_SYNC (KILN_KERNEL_DEFINES)
// compiles the mma.sync path, as every other architecture does.
// Warpgroup g (warps 4g..4g+3) multiplies its 64 weight rows (the A operand, rows 64g.. of the
// stage) with the MT batch rows (B), four wgmma.m64nMTk16 a stage, both read from shared memory
// through descriptors: the ring's rows are already the 128-byte-swizzled K-major layout wgmma
// reads (8-row groups of 1,024 bytes, chunk c of row r at c ^ (r & 7)), so the copies stay as they
// are; a k16 slice is the descriptor's start address + 32 bytes. The accumulators come out in the
// mma.m16n8 fragment order the epilogue already uses (warp w: rows 16w.., d[4j..4j+3] = acc[j]);
// skinny_wgmma and skinny_fence_operands are in skinny_common.cuh.

// Mode 0: plain (N = W's rows, optional fp32 bias); 1 / 2: gate/up with SiLU / GELU-tanh
// (N = mlp, W has 2 * N rows). BN weight rows per block (BN / 16 warps), MT batch rows per tile.
// Tma: stages filled by the bulk tensor copy engine from weightMap / inputMap (sm_90a with wgmma
// only; the mbarriers sit after the ring, 8 bytes a stage).
template <int BN, int MT, int Mode, typename OutT, bool Tma = false>
__device__ __forceinline__ void skinny_gemm_body(const bf16* __restrict__ weight, const bf16* __restrict__ x,
                                                 const float* __restrict__ bias, OutT* __restrict__ y, int N, int K, int M,
                                                 int ldx, int ldy, const SkinnyTensorMap* weightMap = nullptr,
                                                 const SkinnyTensorMap* inputMap = nullptr) {
    constexpr int Warps = BN / 16, Threads = 32 * Warps;
    constexpr int WeightBytes = BN * 128, StageBytes = (BN + MT) * 128;
    constexpr int WeightCopies = BN * 8 / Threads;  // 16-byte chunks per thread per stage: 4
    constexpr int InputCopies = MT * 8 / Threads;
    static_assert(BN % 16 == 0 && MT % 16 == 0 && InputCopies >= 1, "tile shape");
    static_assert(BN * (MT + 1) * 4 <= kSkinnyStages * StageBytes, "epilogue staging fits in the ring");
#ifdef KILN_SKINNY_USES_WGMMA
    static_assert(BN % 64 == 0, "wgmma: whole warpgroups of 64 weight rows");
    extern __shared__ __align__(1024) unsigned char skinnyShared[];  // the swizzle pattern is anchored at 1,024 bytes
#else
    extern __shared__ __align__(128) unsigned char skinnyShared[];
#endif

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int splits = gridDim.y, split = blockIdx.y;
    const int mBase = blockIdx.z * MT;
    constexpr int OutColumns = Mode == 0 ? BN : BN / 2;
    const int columnBase = blockIdx.x * OutColumns;
    const int steps = (K + kSkinnyK - 1) / kSkinnyK;
    const int perSplit = (steps + splits - 1) / splits;
    const int kBegin = min(steps, split * perSplit), count = min(steps, kBegin + perSplit) - kBegin;
    const unsigned ring = skinny_shared_address(skinnyShared);

    // This thread's copies: chunk i = tid + q * Threads of a stage is row i / 8, chunk i % 8. Rows
    // past N (or M) copy the last valid row instead: mma rows and columns are independent and
    // those outputs are never stored, so only k past K needs zero-filled copies. Sources are byte
    // pointers that advance 128 bytes a stage; a stage wholly inside K skips the tail test.
    const char* weightSource[WeightCopies];
    unsigned weightOffset[WeightCopies];
    int weightK[WeightCopies];  // the chunk's first k in stage 0 of this slice
#pragma unroll
    for (int q = 0; q < WeightCopies; ++q) {
        const int i = tid + q * Threads, r = i >> 3, c = i & 7;
        int row;
        if (Mode == 0) {
            row = min(columnBase + r, N - 1);
        } else {  // A tile r / 16: gate rows in its rows 0-7, the matching up rows in 8-15
            const int column = min(columnBase + (r >> 4) * 8 + (r & 7), N - 1);
            row = (r & 8) ? N + column : column;
        }
        weightK[q] = kBegin * kSkinnyK + c * 8;
        weightSource[q] = reinterpret_cast<const char*>(weight + (long long)row * K + weightK[q]);
        weightOffset[q] = skinny_swizzle(r, c);
    }
    const char* inputSource[InputCopies];
    unsigned inputOffset[InputCopies];
    int inputK[InputCopies];
#pragma unroll
    for (int q = 0; q < InputCopies; ++q) {
        const int i = tid + q * Threads, r = i >> 3, c = i & 7;
        inputK[q] = kBegin * kSkinnyK + c * 8;
        inputSource[q] = reinterpret_cast<const char*>(x + (long long)min(mBase + r, M - 1) * ldx + inputK[q]);
        inputOffset[q] = WeightBytes + skinny_swizzle(r, c);
    }
    // Stage `stage` of the ring <- k step kBegin + s of this slice, for one operand's copies
    // (sources, ring offsets, first k; `fallback`: a valid address for zero-filled chunks).
    auto copyRows = [&](const auto& source, const auto& offset, const auto& firstK, const void* fallback, int stage, int s) {
        const unsigned base = ring + stage * StageBytes;
        const bool whole = (kBegin + s + 1) * kSkinnyK <= K;
#pragma unroll
        for (int q = 0; q < (int)(sizeof(offset) / sizeof(offset[0])); ++q) {
            const bool inside = whole || firstK[q] + s * kSkinnyK < K;
            skinny_copy(base + offset[q], inside ? (const void*)(source[q] + s * 2 * kSkinnyK) : fallback, inside ? 16 : 0);
        }
    };
    auto copyWeights = [&](int stage, int s) { copyRows(weightSource, weightOffset, weightK, weight, stage, s); };
    auto copyInputs = [&](int stage, int s) { copyRows(inputSource, inputOffset, inputK, x, stage, s); };

    // Prologue: weights of the first stages before the wait, then x (one group per stage; group 0
    // also carries the early weight copies).
#ifdef KILN_SKINNY_USES_WGMMA
    const unsigned barriers = ring + kSkinnyStages * StageBytes;
    auto tmaWeights = [&](int stage, int s) {
        const unsigned base = ring + stage * StageBytes, barrier = barriers + 8 * stage;
        const int k = (kBegin + s) * kSkinnyK;
        if (Mode == 0) {
            skinny_tma_load(base, weightMap, k, columnBase, barrier);
        } else {  // gate rows in the stage's rows 0 .. BN/2 - 1, their up rows in BN/2 .. BN - 1
            skinny_tma_load(base, weightMap, k, columnBase, barrier);
            skinny_tma_load(base + (BN / 2) * 128, weightMap, k, N + columnBase, barrier);
        }
    };
    auto tmaInputs = [&](int stage, int s) {
        skinny_tma_load(ring + stage * StageBytes + WeightBytes, inputMap, (kBegin + s) * kSkinnyK, mBase, barriers + 8 * stage);
    };
#endif
    if constexpr (Tma) {
#ifdef KILN_SKINNY_USES_WGMMA
        if (tid == 0) {
#pragma unroll
            for (int s = 0; s < kSkinnyStages; ++s) skinny_barrier_init(barriers + 8 * s, 1);
            asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
        }
        __syncthreads();
        if (tid == 0) {
#pragma unroll
            for (int s = 0; s < kSkinnyStages - 1; ++s)
                if (s < count) {
                    skinny_barrier_expect(barriers + 8 * s, StageBytes);
                    tmaWeights(s, s);
                }
        }
        kiln_wait_prerequisites();
        if (tid == 0) {
#pragma unroll
            for (int s = 0; s < kSkinnyStages - 1; ++s)
                if (s < count) tmaInputs(s, s);
        }
#endif
    } else {
#pragma unroll
        for (int s = 0; s < kSkinnyStages - 1; ++s)
            if (s < count) copyWeights(s, s);
        kiln_wait_prerequisites();
#pragma unroll
        for (int s = 0; s < kSkinnyStages - 1; ++s) {
            if (s < count) copyInputs(s, s);
            skinny_commit();
        }
    }

    float acc[MT / 8][4];
#pragma unroll
    for (int n = 0; n < MT / 8; ++n)
#pragma unroll
        for (int i = 0; i < 4; ++i) acc[n][i] = 0.0f;

    // ldmatrix lanes: A rows warp * 16 + lane % 16, k chunk lane / 16; B batch rows
    // (lane % 8) + 8 * (lane / 16) of each 16-row pair, k chunk (lane / 8) % 2. The swizzled
    // offsets of the four 16-k slices of a stage are fixed per thread: computed once.
    const int aRow = warp * 16 + (lane & 15), aChunk = lane >> 4;
    const int bRow = (lane & 7) + ((lane >> 4) << 3), bChunk = (lane >> 3) & 1;
    unsigned aOffset[kSkinnyK / 16], bOffset[kSkinnyK / 16];
#pragma unroll
    for (int kk = 0; kk < kSkinnyK / 16; ++kk) {
        aOffset[kk] = skinny_swizzle(aRow, 2 * kk + aChunk);
        bOffset[kk] = WeightBytes + skinny_swizzle(bRow, 2 * kk + bChunk);  // + nb * 16 rows = nb * 2048 bytes
    }
    int readStage = 0, writeStage = kSkinnyStages - 1;
    for (int it = 0; it < count; ++it) {
        if constexpr (Tma) {
#ifdef KILN_SKINNY_USES_WGMMA
            skinny_barrier_wait(barriers + 8 * readStage, (unsigned)(it / kSkinnyStages) & 1u);
#endif
        } else {
            skinny_wait<kSkinnyStages - 2>();
#ifdef KILN_SKINNY_USES_WGMMA
            asm volatile("fence.proxy.async.shared::cta;" ::: "memory");  // the copies, seen by wgmma's reads
#endif
        }
        __syncthreads();  // stage `it` landed for every thread; stage it - 1 is free to refill
        const int next = it + kSkinnyStages - 1;
        if constexpr (Tma) {
#ifdef KILN_SKINNY_USES_WGMMA
            if (tid == 0 && next < count) {
                skinny_barrier_expect(barriers + 8 * writeStage, StageBytes);
                tmaWeights(writeStage, next);
                tmaInputs(writeStage, next);
            }
#endif
        } else {
            if (next < count) {
                copyWeights(writeStage, next);
                copyInputs(writeStage, next);
            }
            skinny_commit();
        }
        const unsigned stage = ring + readStage * StageBytes;
        readStage = readStage == kSkinnyStages - 1 ? 0 : readStage + 1;
        writeStage = writeStage == kSkinnyStages - 1 ? 0 : writeStage + 1;
#ifdef KILN_SKINNY_USES_WGMMA
        {
            float* d = &acc[0][0];
            const unsigned aBase = stage + (warp >> 2) * 64 * 128, bBase = stage + WeightBytes;
            skinny_fence_operands<MT / 2>(d);
            asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#pragma unroll
            for (int kk = 0; kk < kSkinnyK / 16; ++kk) {
                skinny_wgmma<MT>(d, skinny_descriptor(aBase + kk * 32), skinny_descriptor(bBase + kk * 32));
            }
            asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
            // Done before the next iteration's barrier: the stage is refilled after it. (Keeping
            // a group in flight with per-stage "empty" barriers instead of the block barrier was
            // measured slower in session 13: bench/results/issue4-session13-2026-11-28.txt.)
            asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
            skinny_fence_operands<MT / 2>(d);
        }
#else
        // Fragments of slice kk + 1 are loaded before slice kk's mma's, so the ldmatrix latency
        // overlaps the tensor-core work (one warp per scheduler when the grid is small).
        unsigned a[2][4], b[2][MT / 16][4];
        skinny_ldmatrix(a[0], stage + aOffset[0]);
#pragma unroll
        for (int nb = 0; nb < MT / 16; ++nb) skinny_ldmatrix(b[0][nb], stage + bOffset[0] + nb * 16 * 128);
#pragma unroll
        for (int kk = 0; kk < kSkinnyK / 16; ++kk) {
            const int now = kk & 1;
            if (kk + 1 < kSkinnyK / 16) {
                skinny_ldmatrix(a[now ^ 1], stage + aOffset[kk + 1]);
#pragma unroll
                for (int nb = 0; nb < MT / 16; ++nb) skinny_ldmatrix(b[now ^ 1][nb], stage + bOffset[kk + 1] + nb * 16 * 128);
            }
#pragma unroll
            for (int nb = 0; nb < MT / 16; ++nb) {
                skinny_mma(acc[2 * nb], a[now], b[now][nb][0], b[now][nb][1]);
                skinny_mma(acc[2 * nb + 1], a[now], b[now][nb][2], b[now][nb][3]);
            }
        }
#endif
    }
    skinny_wait<0>();
    __syncthreads();  // every warp is done with the ring: reuse it for the epilogue

    // Stage the partial tile: staged[weight row][batch row], fp32, rows padded to MT + 1.
    float* staged = reinterpret_cast<float*>(skinnyShared);
    constexpr int Pitch = MT + 1;
    {
        const int g = lane >> 2, t = lane & 3, row = warp * 16 + g;
#pragma unroll
        for (int n = 0; n < MT / 8; ++n) {
            const int column = n * 8 + 2 * t;
            staged[row * Pitch + column] = acc[n][0];
            staged[row * Pitch + column + 1] = acc[n][1];
            staged[(row + 8) * Pitch + column] = acc[n][2];
            staged[(row + 8) * Pitch + column + 1] = acc[n][3];
        }
    }
    skinny_store_tile<BN, MT, Mode, Tma>(staged, bias, y, N, M, ldy, columnBase, mBase, tid, Threads);
}

}  // namespace

// Exported: skinny_gemm_{bf16, bf16_f32, gateup_silu_bf16, gateup_gelu_bf16}_n{64,128}_m{32,64}.
// Block: 2 * BN threads (BN / 16 warps); dynamic shared memory STAGES * (BN + MT) * 128 bytes
// (+ 64 for the TMA variants' mbarriers);
// grid (ceil(outputs / (plain: BN, gate/up: BN / 2)), splits, ceil(M / MT)), splits > 1 only as
// clusters of (1, splits, 1) on sm_90.
#define KILN_SKINNY_PLAIN(NAME, OUT, BN, MT)                                                                       \
    extern "C" __global__ void __launch_bounds__(2 * BN) NAME(const bf16* weight, const bf16* x, const float* bias, \
                                                              OUT* y, int N, int K, int M, int ldx, int ldy) {      \
        KILN_TRACE_SCOPE(kTraceSkinnyGEMM);                                                                        \
        skinny_gemm_body<BN, MT, 0, OUT>(weight, x, bias, y, N, K, M, ldx, ldy);                                   \
    }
#define KILN_SKINNY_GATED(NAME, MODE, BN, MT)                                                                      \
    extern "C" __global__ void __launch_bounds__(2 * BN) NAME(const bf16* weight, const bf16* x, bf16* y, int mlp, \
                                                              int K, int M, int ldx, int ldy) {                    \
        KILN_TRACE_SCOPE(kTraceSkinnyGEMM);                                                                        \
        skinny_gemm_body<BN, MT, MODE, bf16>(weight, x, nullptr, y, mlp, K, M, ldx, ldy);                          \
    }
// TMA variants (`_tma`): the same parameters followed by the weight's and x's tensor maps
// (weight: [rows, K] bf16, box 64 k x BN rows, gate/up BN / 2; x: [M, K] with row stride ldx, box
// 64 k x MT rows; 128-byte swizzle); dynamic shared memory 64 bytes more (the stages' mbarriers).
// sm_90a only (wgmma); elsewhere they trap, and the host never launches them.
#ifdef KILN_SKINNY_USES_WGMMA
#define KILN_SKINNY_TMA_BODY(BN, MT, MODE, OUT, BIAS, Y) \
    skinny_gemm_body<BN, MT, MODE, OUT, true>(weight, x, BIAS, Y, N, K, M, ldx, ldy, &weightMap, &inputMap);
#else
#define KILN_SKINNY_TMA_BODY(BN, MT, MODE, OUT, BIAS, Y) __trap();
#endif
#define KILN_SKINNY_PLAIN_TMA(NAME, OUT, BN, MT)                                                                   \
    extern "C" __global__ void __launch_bounds__(2 * BN)                                                           \
        NAME(const bf16* weight, const bf16* x, const float* bias, OUT* y, int N, int K, int M, int ldx, int ldy,   \
             const __grid_constant__ SkinnyTensorMap weightMap, const __grid_constant__ SkinnyTensorMap inputMap) { \
        KILN_TRACE_SCOPE(kTraceSkinnyGEMM);                                                                        \
        KILN_SKINNY_TMA_BODY(BN, MT, 0, OUT, bias, y)                                                              \
    }
#define KILN_SKINNY_GATED_TMA(NAME, MODE, BN, MT)                                                                  \
    extern "C" __global__ void __launch_bounds__(2 * BN)                                                           \
        NAME(const bf16* weight, const bf16* x, bf16* y, int N, int K, int M, int ldx, int ldy,                     \
             const __grid_constant__ SkinnyTensorMap weightMap, const __grid_constant__ SkinnyTensorMap inputMap) { \
        KILN_TRACE_SCOPE(kTraceSkinnyGEMM);                                                                        \
        KILN_SKINNY_TMA_BODY(BN, MT, MODE, bf16, nullptr, y)                                                       \
    }
#define KILN_SKINNY_SHAPES(BN, MT)                                                   \
    KILN_SKINNY_PLAIN(skinny_gemm_bf16_n##BN##_m##MT, bf16, BN, MT)                  \
    KILN_SKINNY_PLAIN(skinny_gemm_bf16_f32_n##BN##_m##MT, float, BN, MT)             \
    KILN_SKINNY_GATED(skinny_gemm_gateup_silu_bf16_n##BN##_m##MT, 1, BN, MT)         \
    KILN_SKINNY_GATED(skinny_gemm_gateup_gelu_bf16_n##BN##_m##MT, 2, BN, MT)         \
    KILN_SKINNY_PLAIN_TMA(skinny_gemm_bf16_n##BN##_m##MT##_tma, bf16, BN, MT)        \
    KILN_SKINNY_PLAIN_TMA(skinny_gemm_bf16_f32_n##BN##_m##MT##_tma, float, BN, MT)   \
    KILN_SKINNY_GATED_TMA(skinny_gemm_gateup_silu_bf16_n##BN##_m##MT##_tma, 1, BN, MT) \
    KILN_SKINNY_GATED_TMA(skinny_gemm_gateup_gelu_bf16_n##BN##_m##MT##_tma, 2, BN, MT)

KILN_SKINNY_SHAPES(64, 32)
KILN_SKINNY_SHAPES(64, 64)
KILN_SKINNY_SHAPES(128, 32)
KILN_SKINNY_SHAPES(128, 64)
