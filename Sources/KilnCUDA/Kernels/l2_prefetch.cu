// Brings weight bytes into L2 ahead of the product that reads them: a hint, nothing is written and
// nothing comes back to the SM. CUDABackend+Prefetch.swift launches it on a side stream while the
// latency-bound part of a decode layer runs (norm, attention, reduce, output projection: memory is
// mostly idle there), for the first tiles of the layer's gate/up product. No CPU twin: it changes
// no value (a check runs the product after it and compares with the CPU, README-l2-prefetch.md).
#include "kiln_common.cuh"

// regions: [first, first + bytes) and, when second is non-null, [second, second + bytes).
// Addresses 16-byte aligned; bytes a multiple of 16. Any grid and block: threads take 4 KiB
// chunks grid-stride, the first region's chunks, then the second's.
// sm_90: one cp.async.bulk.prefetch.L2 per chunk (the TMA unit fetches it; no registers, no
// load slots held). Before sm_90, or with KILN_PREFETCH_LINES: prefetch.global.L2 per 128-byte line.
extern "C" __global__ void l2_prefetch(const char* first, const char* second, unsigned long long bytes) {
    KILN_TRACE_SCOPE(kTraceL2Prefetch);
    const unsigned long long chunkBytes = 4096;
    const unsigned long long chunks = (bytes + chunkBytes - 1) / chunkBytes;
    const unsigned long long total = second ? 2 * chunks : chunks;
    const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
    for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const char* base = i < chunks ? first : second;
        const unsigned long long offset = (i < chunks ? i : i - chunks) * chunkBytes;
        const unsigned size = (unsigned)min(chunkBytes, bytes - offset);
#if __CUDA_ARCH__ >= 900 && !defined(KILN_PREFETCH_LINES)
        asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(base + offset), "r"(size) : "memory");
#else
        for (unsigned line = 0; line < size; line += 128) asm volatile("prefetch.global.L2 [%0];" ::"l"(base + offset + line));
#endif
    }
}
