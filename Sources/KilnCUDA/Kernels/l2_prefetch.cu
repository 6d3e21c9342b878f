// L2 prefetch of weights a later kernel of the step will stream (CUDABackend+L2Prefetch.swift).
// At batch 1 the attention chain (qkv, decode attention, reduce, o, norm: ~20 us a Gemma-2B layer)
// is bound by latency and leaves memory idle; bringing the first part of the gate/up weight into
// L2 during it lets the gate/up product start from L2. A hint: it reads nothing into registers and
// writes nothing, so no result depends on it (its CPU twin is doing nothing).
//
// Two byte ranges [first, first + firstBytes) and [second, second + secondBytes), both starting at
// a 16-byte aligned address, sizes multiples of 16 (either may be 0). Thread t of the grid takes
// chunk t of `chunkBytes` (a multiple of 16) of the first range, the threads after those the
// second range's chunks. grid = ceil(chunks / blockDim.x), any block size.
// It waits for the previous kernel before issuing (so that under programmatic launch, where every
// kernel lets the next one launch at entry, the prefetches go out when the kernel before this one
// in the stream has finished, not earlier while a large product still streams).
// sm_90+: cp.async.bulk.prefetch.L2 (one instruction a chunk). Before sm_90 it only waits.
#include "kiln_common.cuh"

extern "C" __global__ void l2_prefetch(const char* first, long long firstBytes, const char* second, long long secondBytes,
                                       int chunkBytes) {
    KILN_TRACE_SCOPE(kTraceL2Prefetch);
    kiln_wait_prerequisites();
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    const long long chunk = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long firstChunks = (firstBytes + chunkBytes - 1) / chunkBytes;
    const char* base = first;
    long long bytes = firstBytes, index = chunk;
    if (chunk >= firstChunks) {
        base = second;
        bytes = secondBytes;
        index = chunk - firstChunks;
    }
    const long long offset = index * chunkBytes;
    if (offset >= bytes) return;
    const unsigned size = (unsigned)min((long long)chunkBytes, bytes - offset);
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(base + offset), "r"(size) : "memory");
#endif
}
