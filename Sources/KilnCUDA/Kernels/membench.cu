// membench.cu — the device-memory read ceiling, for `kiln bench memory` (MemoryBench.swift).
//
// METHOD: a memory-bound kernel is judged against the rate the card can read at, so that rate has
// to be measured with the best plain read this file can express, not taken from a copy. Each
// kernel reads `count` 16-byte words of `data` once, folds them into a register (XOR, so no load
// can be dropped) and stores nothing unless the fold hits a constant the benchmark's fill never
// produces,
// so the only traffic is the read.
//
// Three orders:
//  - grid: grid-stride; load u of a thread reads word i + u * stride (stride = every thread of
//    the grid), so each load instruction of the grid covers one contiguous span. A persistent
//    grid (a few blocks an SM) loops until the buffer ends.
//  - chunk: block b reads words [b * chunkWords, (b + 1) * chunkWords) of its own, in order; one
//    block a chunk (launch enough).
//  - tile: block b reads a 16-row tile in the GEMV's order (chunkWords = words a row; below).
// Loads:
//  - f0: ld.global.nc.L1::no_allocate.L2::256B (gemv.cu's weight loads);
//  - f1: ld.global.nc (read-only path, default L2 size);
//  - f2: ld.global.cs (streaming: evict first).
// UNROLL (1, 2, 4, 8) is how many 16-byte loads each thread has in flight before the first use.
//
// Parameters: data (16-byte aligned), count (words), chunkWords (chunk and tile orders), sink (one
// unsigned long long, written only in the impossible case).

#include "kiln_common.cuh"

template <int FLAVOUR>
__device__ __forceinline__ uint4 membench_load(const uint4* pointer) {
    if (FLAVOUR == 0) return kiln_load_stream_16(pointer);
    if (FLAVOUR == 1) return kiln_load_readonly_16(pointer);
    uint4 v;
    asm volatile("ld.global.cs.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(pointer));
    return v;
}

__device__ __forceinline__ void membench_fold(uint4& acc, uint4 v) {
    acc.x ^= v.x; acc.y ^= v.y; acc.z ^= v.z; acc.w ^= v.w;
}

__device__ __forceinline__ void membench_publish(uint4 acc, unsigned long long* sink) {
    // 0x9E3779B9 after folding four words: the benchmark's constant fill folds to 0, and the
    // compiler cannot know that, so every load stays.
    if ((acc.x ^ acc.y ^ acc.z ^ acc.w) == 0x9E3779B9u) atomicAdd(sink, 1ull);
}

// Words i, i + step, ... below end, UNROLL loads in flight a thread: the grid order (i = the
// thread's global index, step = the grid's threads, end = count) and the chunk order (i = the
// block's first word + the thread's index, step = the block's threads, end = the chunk's end).
// Step: long long for the grid's stride, int for a block's (the types each order was measured with).
template <int UNROLL, int FLAVOUR, typename Step>
__device__ __forceinline__ void membench_strided(const uint4* __restrict__ data, long long i, long long end, Step step,
                                                 unsigned long long* sink) {
    uint4 acc = make_uint4(0, 0, 0, 0);
    for (; i + (UNROLL - 1) * step < end; i += UNROLL * step) {
        uint4 v[UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) v[u] = membench_load<FLAVOUR>(data + i + u * step);
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) membench_fold(acc, v[u]);
    }
    for (; i < end; i += step) membench_fold(acc, membench_load<FLAVOUR>(data + i));
    membench_publish(acc, sink);
}

template <int UNROLL, int FLAVOUR>
__device__ __forceinline__ void membench_grid(const uint4* __restrict__ data, long long count, unsigned long long* sink) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    membench_strided<UNROLL, FLAVOUR>(data, (long long)blockIdx.x * blockDim.x + threadIdx.x, count, stride, sink);
}

template <int UNROLL, int FLAVOUR>
__device__ __forceinline__ void membench_chunk(const uint4* __restrict__ data, long long count, long long chunkWords,
                                               unsigned long long* sink) {
    const long long begin = (long long)blockIdx.x * chunkWords;
    const long long end = begin + chunkWords < count ? begin + chunkWords : count;
    membench_strided<UNROLL, FLAVOUR>(data, begin + threadIdx.x, end, (int)blockDim.x, sink);
}

// The GEMV's own order (gemv.cu, eight-chunk kernel): block b reads tile b, 16 rows of rowWords
// words stored one after another; lane 4g + q of a warp reads rows g and g + 8, chunks
// s * 4 * UNROLL + q + 4c (c < UNROLL) of k step s, and the warps take the steps in turn. Needs
// rowWords % (4 * UNROLL) == 0; a partial last tile is skipped.
template <int UNROLL, int FLAVOUR>
__device__ __forceinline__ void membench_tile(const uint4* __restrict__ data, long long count, long long rowWords,
                                              unsigned long long* sink) {
    const long long base = (long long)blockIdx.x * 16 * rowWords;
    if (base + 16 * rowWords > count) return;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const uint4* row0 = data + base + (lane >> 2) * rowWords + (lane & 3);
    const uint4* row1 = row0 + 8 * rowWords;
    const long long steps = rowWords / (4 * UNROLL);
    uint4 acc = make_uint4(0, 0, 0, 0);
    for (long long s = warp; s < steps; s += warps) {
        uint4 a[UNROLL], b[UNROLL];
#pragma unroll
        for (int c = 0; c < UNROLL; ++c) {
            a[c] = membench_load<FLAVOUR>(row0 + s * 4 * UNROLL + 4 * c);
            b[c] = membench_load<FLAVOUR>(row1 + s * 4 * UNROLL + 4 * c);
        }
#pragma unroll
        for (int c = 0; c < UNROLL; ++c) { membench_fold(acc, a[c]); membench_fold(acc, b[c]); }
    }
    membench_publish(acc, sink);
}

#define MEMBENCH_KERNELS(U, F)                                                                                          \
    extern "C" __global__ void __launch_bounds__(1024) membench_grid_u##U##_f##F(                                       \
        const uint4* __restrict__ data, long long count, long long chunkWords, unsigned long long* sink) {             \
        membench_grid<U, F>(data, count, sink);                                                                         \
    }                                                                                                                   \
    extern "C" __global__ void __launch_bounds__(1024) membench_chunk_u##U##_f##F(                                      \
        const uint4* __restrict__ data, long long count, long long chunkWords, unsigned long long* sink) {             \
        membench_chunk<U, F>(data, count, chunkWords, sink);                                                            \
    }                                                                                                                   \
    extern "C" __global__ void __launch_bounds__(1024) membench_tile_u##U##_f##F(                                       \
        const uint4* __restrict__ data, long long count, long long chunkWords, unsigned long long* sink) {             \
        membench_tile<U, F>(data, count, chunkWords, sink);                                                             \
    }

#define MEMBENCH_FLAVOURS(U) MEMBENCH_KERNELS(U, 0) MEMBENCH_KERNELS(U, 1) MEMBENCH_KERNELS(U, 2)
MEMBENCH_FLAVOURS(1)
MEMBENCH_FLAVOURS(2)
MEMBENCH_FLAVOURS(4)
MEMBENCH_FLAVOURS(8)
