import Foundation
import KilnBackend
import KilnCore
import KilnCPU
import KilnEngine
import KilnFormats
import Testing
@testable import KilnModels

/// The greedy loops' queued path (CUDA's: step k + 1 queued with its tokens fed from step k's
/// unread ids), run on the CPU's check mode: the same ids as the plain loop, at the length limit
/// and at a stop token, with a step really queued ahead of the ids it takes.
@Suite struct QueuedGreedyTests {
    static func model(_ family: String = "llama") throws -> (DecoderModel<CPUBackend>, TransformersParityTests.Reference) {
        let (directory, reference) = try TransformersParityTests.fixture(family)
        return (try DecoderModel(provider: try CheckpointWeights(checkpoint: try Checkpoint.open(directory)), backend: CPUBackend()), reference)
    }

    @Test func generatorQueuedEqualsPlain() throws {
        let (model, reference) = try Self.model()
        let generator = TextGenerator(model: model, tokenizer: nil, blockSize: 8, prefillChunk: 7)
        let prompt = reference.prompts.max { $0.count < $1.count }!
        let stop = reference.greedy[5]
        let cases = [SamplingParameters(temperature: 0, maxTokens: reference.greedy.count, ignoreEOS: true),
                     SamplingParameters(temperature: 0, maxTokens: 16, stopTokenIDs: [stop], ignoreEOS: true),
                     SamplingParameters(temperature: 0, maxTokens: 1, ignoreEOS: true),
                     SamplingParameters(temperature: 0, maxTokens: 2, ignoreEOS: true)]
        for parameters in cases {
            model.backend.queuesStepsForChecks = false
            let plain = try generator.generate(promptIDs: prompt, parameters: parameters)
            model.backend.queuesStepsForChecks = true
            let queued = try generator.generate(promptIDs: prompt, parameters: parameters)
            #expect(queued.outputIDs == plain.outputIDs, "max \(parameters.maxTokens)")
            #expect(queued.finishReason == plain.finishReason)
        }
        #expect(model.backend.mostUnreadSteps == 2) // a step was queued before the previous one was read
        model.backend.queuesStepsForChecks = true
        let full = try generator.generate(promptIDs: prompt, parameters: cases[0])
        #expect(full.outputIDs == reference.greedy)
    }

    @Test func staticRunnerQueuedEqualsPlain() throws {
        let (model, reference) = try Self.model("gemma2")
        let runner = StaticBatchRunner(model: model, blockSize: 4)
        for outputs in [1, 2, 9] {
            model.backend.queuesStepsForChecks = false
            let plain = try runner.run(prompts: reference.prompts, outputTokens: outputs)
            model.backend.queuesStepsForChecks = true
            let queued = try runner.run(prompts: reference.prompts, outputTokens: outputs)
            #expect(queued.outputs == plain.outputs, "\(outputs) outputs")
            #expect(queued.outputs.allSatisfy { $0.count == outputs })
        }
        #expect(model.backend.mostUnreadSteps == 2)
    }

    @Test func feedingWithoutQueuingIsAnError() throws {
        let (model, _) = try Self.model()
        #expect(throws: (any Error).self) { try model.backend.feedTokens(QueuedTokens(ids: [1])) }
    }
}
