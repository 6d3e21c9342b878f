import KilnBackend
import KilnCPU
import KilnEngine
import KilnFormats
import Testing
@testable import KilnModels

/// Many sequences in one batch get exactly what each gets alone: the multi-sequence path of
/// ForwardBatch (per-sequence block tables, mixed lengths) through the whole model.
@Suite struct StaticBatchRunnerTests {
    @Test(arguments: ["llama", "gemma2", "gemma3"])
    func batchedGreedyEqualsOneAtATime(family: String) throws {
        let (directory, reference) = try TransformersParityTests.fixture(family)
        let model = try DecoderModel(provider: try CheckpointWeights(checkpoint: try Checkpoint.open(directory)), backend: CPUBackend())
        let runner = StaticBatchRunner(model: model, blockSize: 4)
        let prompts = reference.prompts // lengths 5, 17, 40
        let together = try runner.run(prompts: prompts, outputTokens: 12)
        for (index, prompt) in prompts.enumerated() {
            let alone = try runner.run(prompts: [prompt], outputTokens: 12)
            #expect(together.outputs[index] == alone.outputs[0], "\(family) prompt \(index)")
        }
        // The longest prompt's first 12 greedy tokens are transformers' too.
        #expect(together.outputs[2] == Array(reference.greedy.prefix(12)))
    }

    /// ForwardBatch.decode: one row per sequence, each slot through its own block table.
    @Test func decodeBatchLayout() {
        let batch = ForwardBatch.decode(tokens: [7, 8], positions: [5, 0], blockTables: [[3, 9], [4]], blockSize: 4)
        #expect(batch.slots == [9 * 4 + 1, 4 * 4 + 0])
        #expect(batch.sequences.map(\.contextLength) == [6, 1])
        #expect(batch.sequences.map(\.tokenStart) == [0, 1] && batch.sequences.allSatisfy { $0.tokenCount == 1 })
        #expect(batch.logitRows == [0, 1] && batch.tokens == [7, 8] && batch.positions == [5, 0])
    }

    @Test func badInput() throws {
        let (directory, _) = try TransformersParityTests.fixture("qwen2")
        let model = try DecoderModel(provider: try CheckpointWeights(checkpoint: try Checkpoint.open(directory)), backend: CPUBackend())
        let runner = StaticBatchRunner(model: model)
        #expect(throws: (any Error).self) { try runner.run(prompts: [], outputTokens: 4) }
        #expect(throws: (any Error).self) { try runner.run(prompts: [[1], []], outputTokens: 4) }
        #expect(throws: (any Error).self) { try runner.run(prompts: [Array(repeating: 1, count: 250)], outputTokens: 10) }
    }
}
