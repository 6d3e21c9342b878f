// Pieces shared by the skinny matrix-product kernels (skinny_gemm.cu: weights as the tensor-core
// A operand; skinny_gemm_swap.cu: batch rows as A, weights as B): shared-memory addresses, thread-
// block cluster helpers, mbarrier and bulk tensor copies, wgmma descriptors, and the epilogue that
// sums a tile's split-K slices over a cluster and stores it. ABI and measurements: README-skinny-gemm.md.
#pragma once
#include "kiln_common.cuh"

// A CUtensorMap passed by value (TMA variants): 128 opaque bytes from cuTensorMapEncodeTiled.
struct __align__(64) SkinnyTensorMap {
    unsigned long long words[16];
};

// The wgmma and TMA paths: sm_90a, unless KILN_SKINNY_MMA_SYNC (KILN_KERNEL_DEFINES) asks for the
// ldmatrix + mma.sync path of skinny_gemm.cu (the only one on other architectures).
#if !defined(KILN_SKINNY_MMA_SYNC) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define KILN_SKINNY_USES_WGMMA 1
#endif

namespace {

// The shared-state-space address of a pointer into shared memory. Written with cvta in asm
// rather than kiln_shared_address's intrinsic: the two schedule the kernel differently, and this
// form is the one measured on the H100 (bench/results/issue4-static64-2026-11-27-s5.txt).
__device__ __forceinline__ unsigned skinny_shared_address(const void* pointer) {
    unsigned address;
    asm("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(address) : "l"(pointer));
    return address;
}

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
// Every thread of every block of the cluster; the .aligned forms want the warp converged, so
// callers that come from per-lane branches (the producer lane, store tails) are reconverged first.
__device__ __forceinline__ void skinny_cluster_sync() {
    __syncwarp();
    asm volatile("barrier.cluster.arrive.release.aligned;\n\tbarrier.cluster.wait.acquire.aligned;" ::: "memory");
}
__device__ __forceinline__ unsigned skinny_cluster_rank() {
    unsigned rank;
    asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(rank));
    return rank;
}
// The generic address of `local`'s counterpart in block `rank` of the cluster (distributed shared
// memory): plain loads through it can be in flight together, unlike one asm load at a time.
__device__ __forceinline__ const float* skinny_cluster_pointer(const float* local, unsigned rank) {
    unsigned long long remote;
    asm volatile("mapa.u64 %0, %1, %2;" : "=l"(remote) : "l"(local), "r"(rank));
    return reinterpret_cast<const float*>(remote);
}
#endif

#ifdef KILN_SKINNY_USES_WGMMA
// A shared-memory matrix descriptor: K-major, 128-byte swizzle (layout 1 in bits 62-63), the
// 8-row groups 1,024 bytes apart (stride offset), start address >> 4 in bits 0-13; the leading
// offset is unused in this layout.
__device__ __forceinline__ unsigned long long skinny_descriptor(unsigned address) {
    return (unsigned long long)((address & 0x3FFFFu) >> 4) | ((unsigned long long)(1024 >> 4) << 32) | (1ull << 62);
}

// The TMA variants (`_tma` kernels, sm_90a): one thread copies a stage's weight box(es) and x
// box with the bulk tensor copy engine (cp.async.bulk.tensor, 128-byte swizzle: the layout the
// ring already has), completing on the stage's mbarrier, instead of every thread issuing
// cp.async chunks with their own address and predicate work (~210 instructions a stage measured
// by ncu in session 11). Rows and k outside the tensor maps read as zero (a gate box past N reads
// up rows instead: inside the [2N, K] map, and those outputs are never stored).
__device__ __forceinline__ void skinny_barrier_init(unsigned barrier, unsigned count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(barrier), "r"(count) : "memory");
}
__device__ __forceinline__ void skinny_barrier_expect(unsigned barrier, unsigned bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(barrier), "r"(bytes) : "memory");
}
__device__ __forceinline__ void skinny_barrier_wait(unsigned barrier, unsigned parity) {
    unsigned done = 0;
    do {
        asm volatile("{\n\t.reg .pred p;\n\tmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n\tselp.u32 %0, 1, 0, p;\n\t}"
                     : "=r"(done) : "r"(barrier), "r"(parity) : "memory");
    } while (!done);
}
__device__ __forceinline__ void skinny_tma_load(unsigned destination, const SkinnyTensorMap* map, int k, int row, unsigned barrier) {
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];"
                 ::"r"(destination), "l"(map), "r"(k), "r"(row), "r"(barrier) : "memory");
}
#endif

// The epilogue of a block whose fp32 partial tile is staged in shared memory as
// staged[weight row][batch row] (BN rows, pitch MT + 1): with split-K (gridDim.y = S > 1, the S
// blocks of a cluster) each block sums 1/S of the tile's outputs over the S staged tiles
// (distributed shared memory, slices in order: deterministic); then bias (Mode 0) or the gated
// activation (Mode 1 SiLU, 2 GELU-tanh: gate rows j, up rows j + BN / 2 when GateFirst, else the
// cp.async ring's pairing, gate rows 8t..8t+7 in tile rows 16t..16t+7 and up rows 8 below), and y
// [M, ldy] stores. Every thread of the block (Threads of them) calls it after staging its part.
template <int BN, int MT, int Mode, bool GateFirst, typename OutT>
__device__ __forceinline__ void skinny_store_tile(const float* staged, const float* __restrict__ bias, OutT* __restrict__ y, int N,
                                                  int M, int ldy, int columnBase, int mBase, int tid, int Threads) {
    constexpr int Pitch = MT + 1;
    constexpr int OutColumns = Mode == 0 ? BN : BN / 2;
    const int splits = gridDim.y;
    unsigned rank = 0;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    if (splits > 1) {
        skinny_cluster_sync();  // every block of the cluster has staged its slice
        rank = skinny_cluster_rank();
    } else {
        __syncthreads();
    }
#else
    __syncthreads();
#endif
    // This block's share of the tile's outputs: columns [first, last) of OutColumns.
    const int share = (OutColumns + splits - 1) / splits;
    const int first = min(OutColumns, (int)rank * share), last = min(OutColumns, min(first + share, N - columnBase));
    const int width = last - first, rows = min(MT, M - mBase);
    // The S staged tiles, summed in slice order (deterministic); at most 8 blocks a cluster.
    const float* peers[8];
#pragma unroll
    for (int s = 0; s < 8; ++s) peers[s] = staged;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    if (splits > 1) {
#pragma unroll
        for (int s = 0; s < 8; ++s)
            if (s < splits) peers[s] = skinny_cluster_pointer(staged, (unsigned)s);
    }
#endif
    auto sum = [&](int row, int batchRow) -> float {
        const int index = row * Pitch + batchRow;
        if (splits == 1) return staged[index];
        float part[8];
#pragma unroll
        for (int s = 0; s < 8; ++s) part[s] = s < splits ? peers[s][index] : 0.0f;
        float total = part[0];
#pragma unroll
        for (int s = 1; s < 8; ++s) total += part[s];
        return total;
    };
    if (width > 0) {
        for (int item = tid; item < width * rows; item += Threads) {
            const int batchRow = item / width, j = first + item % width;
            float value;
            if (Mode == 0) {
                value = sum(j, batchRow);
                if (bias != nullptr) value += bias[columnBase + j];
            } else {
                // cp.async ring: A tile j / 8 holds gate rows in its rows 0-7, up rows in 8-15;
                // TMA ring: gate rows first, then the up rows.
                const int gateRow = GateFirst ? j : (j >> 3) * 16 + (j & 7);
                const float gate = sum(gateRow, batchRow), up = sum(GateFirst ? j + BN / 2 : gateRow + 8, batchRow);
                value = kiln_gated_activation<Mode>(gate) * up;
            }
            kiln_store(y + (long long)(mBase + batchRow) * ldy + columnBase + j, value);
        }
    }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    if (splits > 1) skinny_cluster_sync();  // peers may still read this block's staged tile
#endif
}

}  // namespace
