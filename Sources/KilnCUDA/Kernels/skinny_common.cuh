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
// Waits until the phase of parity `parity` has completed. ClusterScope: acquire at cluster scope,
// for barriers that threads of other blocks arrive on (skinny_gemm_swap.cu's multicast).
template <bool ClusterScope = false>
__device__ __forceinline__ void skinny_barrier_wait(unsigned barrier, unsigned parity) {
    unsigned done = 0;
    do {
        if constexpr (ClusterScope) {
            asm volatile("{\n\t.reg .pred p;\n\tmbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 p, [%1], %2;\n\tselp.u32 %0, 1, 0, p;\n\t}"
                         : "=r"(done) : "r"(barrier), "r"(parity) : "memory");
        } else {
            asm volatile("{\n\t.reg .pred p;\n\tmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n\tselp.u32 %0, 1, 0, p;\n\t}"
                         : "=r"(done) : "r"(barrier), "r"(parity) : "memory");
        }
    } while (!done);
}
__device__ __forceinline__ void skinny_tma_load(unsigned destination, const SkinnyTensorMap* map, int k, int row, unsigned barrier) {
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];"
                 ::"r"(destination), "l"(map), "r"(k), "r"(row), "r"(barrier) : "memory");
}

// wgmma.mma_async.m64nNk16, bf16 in, fp32 accumulate, both operands from shared memory
// (descriptors), K-major. One specialisation per N either kernel file uses.
// d[N / 2] += A (64 x 16, descriptor a) * B (N x 16, descriptor b)^T, fp32 accumulators in the
// mma.m16n8 fragment order (warp w of the warpgroup: rows 16w.., d[4j..4j+3] = columns 8j..8j+7).
// skinny_gemm.cu uses N = MT (32, 64), skinny_gemm_swap.cu N = BN.
template <int N>
__device__ __forceinline__ void skinny_wgmma(float* d, unsigned long long a, unsigned long long b);
template <>
__device__ __forceinline__ void skinny_wgmma<16>(float* d, unsigned long long a, unsigned long long b) {
    asm volatile("{\n\twgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7}, %8, %9, 1, 1, 1, 0, 0;\n\t}"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7])
                 : "l"(a), "l"(b));
}
template <>
__device__ __forceinline__ void skinny_wgmma<24>(float* d, unsigned long long a, unsigned long long b) {
    asm volatile("{\n\twgmma.mma_async.sync.aligned.m64n24k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11}, %12, %13, 1, 1, 1, 0, 0;\n\t}"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11])
                 : "l"(a), "l"(b));
}
template <>
__device__ __forceinline__ void skinny_wgmma<32>(float* d, unsigned long long a, unsigned long long b) {
    asm volatile("{\n\twgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, %16, %17, 1, 1, 1, 0, 0;\n\t}"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])
                 : "l"(a), "l"(b));
}
template <>
__device__ __forceinline__ void skinny_wgmma<48>(float* d, unsigned long long a, unsigned long long b) {
    asm volatile("{\n\twgmma.mma_async.sync.aligned.m64n48k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23}, %24, %25, 1, 1, 1, 0, 0;\n\t}"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23])
                 : "l"(a), "l"(b));
}
template <>
__device__ __forceinline__ void skinny_wgmma<64>(float* d, unsigned long long a, unsigned long long b) {
    asm volatile("{\n\twgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, 1, 1, 1, 0, 0;\n\t}"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
                 : "l"(a), "l"(b));
}
template <>
__device__ __forceinline__ void skinny_wgmma<128>(float* d, unsigned long long a, unsigned long long b) {
    asm volatile("{\n\twgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, 1, 1, 1, 0, 0;\n\t}"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
                 : "l"(a), "l"(b));
}


// Keeps the compiler from moving accumulator reads or writes across the asynchronous wgmma.
template <int Count>
__device__ __forceinline__ void skinny_fence_operands(float* d) {
#pragma unroll
    for (int i = 0; i < Count; ++i) asm volatile("" : "+f"(d[i])::"memory");
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
