import KilnBackend
import Testing
@testable import KilnCUDA

/// Which steps CUDABackend records as CUDA graphs, and the context bucket a recording serves
/// (GPU-free: the rules only look at the batch).
@Suite struct RecordedStepRuleTests {
    func decode(_ contexts: [Int], logitRows: [Int]? = nil) -> ForwardBatch {
        ForwardBatch(tokens: contexts.map { _ in 1 }, positions: contexts.map { $0 - 1 }, slots: contexts.indices.map { $0 },
                     sequences: contexts.indices.map { .init(tokenStart: $0, tokenCount: 1, contextLength: contexts[$0], blockTable: [$0]) },
                     logitRows: logitRows ?? Array(contexts.indices))
    }

    @Test func onlyWholeDecodeBatchesAreRecorded() {
        #expect(CUDABackend.isRecordable(decode([5])))
        #expect(CUDABackend.isRecordable(decode([300, 17, 4000])))
        // A prompt chunk (several tokens of one sequence) runs op by op.
        let prefill = ForwardBatch.single(tokens: [1, 2, 3], startPosition: 0, blockTable: [0], blockSize: 16)
        #expect(!CUDABackend.isRecordable(prefill))
        // Logits of only some rows: not the recorded shape.
        #expect(!CUDABackend.isRecordable(decode([5, 6], logitRows: [1])))
        // Too many rows.
        #expect(!CUDABackend.isRecordable(decode(Array(repeating: 9, count: CUDABackend.maximumRecordedRows + 1))))
        #expect(CUDABackend.isRecordable(decode(Array(repeating: 9, count: CUDABackend.maximumRecordedRows))))
    }

    @Test func bucketsArePowersOfTwoFrom256CoveringTheLongestContext() {
        #expect(CUDABackend.contextBucket(decode([1])) == 256)
        #expect(CUDABackend.contextBucket(decode([256])) == 256)
        #expect(CUDABackend.contextBucket(decode([257])) == 512)
        #expect(CUDABackend.contextBucket(decode([10, 3000, 5])) == 4096)
        #expect(CUDABackend.contextBucket(decode([8192])) == 8192)
    }
}
