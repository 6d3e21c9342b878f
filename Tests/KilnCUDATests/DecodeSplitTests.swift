import Testing
@testable import KilnCUDA

/// The decode attention's split rule (GPU-free): partitions cover every visible key, the grid's
/// partition count bounds every row's, and the group tile follows the head grouping.
@Suite struct DecodeSplitTests {
    @Test(arguments: [1, 3, 8, 64, 512])
    func partitionsCoverTheVisibleKeys(rows: Int) {
        for (heads, kvHeads) in [(8, 1), (32, 8), (9, 3), (16, 16), (12, 1)] {
            for keys in [1, 31, 32, 33, 256, 1000, 8192] {
                let split = CUDABackend.DecodeSplit(rows: rows, heads: heads, kvHeads: kvHeads, visibleKeys: keys, multiprocessors: 132, leastKeys: 32, blocksPerMultiprocessor: nil)
                #expect(split.partitionSize >= 32 && split.partitionSize % 32 == 0)
                #expect(split.maxPartitions * split.partitionSize >= keys, "\(rows) rows, \(keys) keys")
                #expect((split.maxPartitions - 1) * split.partitionSize < keys, "no partition past the last key")
                let group = heads / kvHeads
                #expect(split.groupTile * split.chunks >= group && split.groupTile <= 8)
                #expect([1, 2, 4, 8].contains(split.groupTile))
            }
        }
    }

    @Test func partitionsStayWithinTheReduceKernelsLimit() {
        // A GPU with many SMs and a long context: no more partitions than the reduce keeps weights for.
        let split = CUDABackend.DecodeSplit(rows: 1, heads: 8, kvHeads: 1, visibleKeys: 1 << 17, multiprocessors: 1024, leastKeys: 32, blocksPerMultiprocessor: nil)
        #expect(split.maxPartitions <= CUDABackend.DecodeSplit.maximumPartitions && split.maxPartitions > 256)
        #expect(split.maxPartitions * split.partitionSize >= 1 << 17)
    }

    @Test func smallBatchesOfWideGroupsUseTwoChunks() {
        // Gemma-2B: 8 query heads on one kv head. One row: two chunks of 4 (more blocks); 64 rows: one chunk of 8.
        let one = CUDABackend.DecodeSplit(rows: 1, heads: 8, kvHeads: 1, visibleKeys: 384, multiprocessors: 132, leastKeys: 32, blocksPerMultiprocessor: nil)
        #expect(one.groupTile == 4 && one.chunks == 2)
        let many = CUDABackend.DecodeSplit(rows: 64, heads: 8, kvHeads: 1, visibleKeys: 384, multiprocessors: 132, leastKeys: 32, blocksPerMultiprocessor: nil)
        #expect(many.groupTile == 8 && many.chunks == 1)
        // A shorter context at batch 1 gets 32-key partitions, one per 32 keys.
        #expect(one.partitionSize == 32 && one.maxPartitions == 12)
    }

    @Test func blocksPerMultiprocessorSetsTheBatchSplit() {
        // Batch 64 of Gemma-2B on 132 SMs, 256 keys: 2 blocks an SM gives 4 partitions of 64
        // keys; 1 (the tensor-core kernel's default at this batch) gives 2; 0.5 gives one
        // partition a row (no reduce launch).
        func partitions(_ perSM: Double?, rows: Int = 64, tensorCores: Bool = true) -> Int {
            CUDABackend.DecodeSplit(rows: rows, heads: 8, kvHeads: 1, visibleKeys: 256, multiprocessors: 132, tensorCores: tensorCores,
                                    leastKeys: 32, blocksPerMultiprocessor: perSM).maxPartitions
        }
        #expect(partitions(2) == 4 && partitions(1) == 2 && partitions(0.5) == 1 && partitions(4) == 8)
        // The defaults (nil: no KILN_DECODE_BLOCKS_PER_SM): 1 block an SM only for the
        // tensor-core kernel with rows filling a quarter of the SMs (64 >= 33; 16 < 33).
        #expect(partitions(nil) == 2 && partitions(nil, tensorCores: false) == 4)
        #expect(partitions(nil, rows: 16) == 8 && partitions(nil, rows: 33) == 4 && partitions(nil, rows: 32) == 8)
    }

    @Test func tensorCoreSplitTakesEightHeadTiles() {
        // attention_decode_mma_*: always 8 heads a block (the mma's n8), groups over 8 in chunks.
        for (rows, heads, kvHeads) in [(1, 8, 1), (64, 8, 1), (3, 4, 2), (20, 16, 2), (1, 32, 8)] {
            let split = CUDABackend.DecodeSplit(rows: rows, heads: heads, kvHeads: kvHeads, visibleKeys: 700, multiprocessors: 132, tensorCores: true, leastKeys: 32, blocksPerMultiprocessor: nil)
            #expect(split.groupTile == 8 && split.chunks == (heads / kvHeads + 7) / 8)
            #expect(split.maxPartitions * split.partitionSize >= 700)
        }
        // Shared memory: 4 warps x stages x (K + V) x 16 keys x headDim bf16.
        #expect(CUDABackend.tensorCoreDecodeSharedBytes(headDim: 256, stages: 1) == 64 * 1024)
        #expect(CUDABackend.tensorCoreDecodeStages() == 1)
        #expect(CUDABackend.tensorCoreDecodeStages(forced: 2) == 2)
        #expect(CUDABackend.tensorCoreDecodeStages(forced: 3) == 1)
    }
}
