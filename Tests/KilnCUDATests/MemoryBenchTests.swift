import Testing
@testable import KilnCUDA

/// `kiln bench memory`'s GPU-free rules: the launch shapes it tries, every one naming a kernel
/// membench.cu exports, and the buffer count that keeps the reads out of L2.
@Suite struct MemoryBenchTests {
    @Test func standardShapesNameExportedKernels() {
        let shapes = MemoryBench.Configuration.standard
        // grid: 9 (threads, blocks an SM) pairs; chunk: 3 thread counts x 3 chunk sizes; tile: 2
        // thread counts; each with 4 unrolls x 3 loads.
        #expect(shapes.count == (9 + 9 + 2) * 4 * 3)
        #expect(Set(shapes).count == shapes.count)
        let exported = Set(KernelLibrary.source(defining: "membench_grid_u1_f0")?.kernels ?? [])
        #expect(exported.count == 3 * 4 * 3)
        #expect(shapes.allSatisfy { exported.contains($0.kernelName) })
        // At most 2,048 threads an SM in grid order; whole 16-byte loads in chunk and tile order.
        #expect(shapes.filter { $0.order == .grid }.allSatisfy { $0.threads * $0.blocksPerMultiprocessor <= 2048 })
        #expect(shapes.filter { $0.order != .grid }.allSatisfy { $0.chunkBytes % 16 == 0 && $0.chunkBytes > 0 })
    }

    @Test func buffersSpanFourL2Caches() {
        let l2 = 50 << 20
        #expect(MemoryBench.copies(bytes: 1000 << 20, l2Bytes: l2) == 2)  // never fewer than two
        #expect(MemoryBench.copies(bytes: 64 << 20, l2Bytes: l2) == 4)
        #expect(MemoryBench.copies(bytes: 10 << 20, l2Bytes: l2) == 20)
        for bytes in [16, 4096, 10 << 20, 64 << 20, 1000 << 20] {
            #expect(MemoryBench.copies(bytes: bytes, l2Bytes: l2) * bytes >= min(4 * l2, 2 * bytes))
        }
    }

    @Test func medianOfOddAndEvenCounts() {
        #expect(MemoryBench.median([3, 1, 2]) == 2)
        #expect(MemoryBench.median([4, 1, 3, 2]) == 2.5)
        #expect(MemoryBench.median([]) == 0)
    }
}
