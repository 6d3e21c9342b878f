import Foundation
import KilnCore
import KilnCPU
import KilnEngine
import KilnFormats
import Testing
@testable import KilnModels

/// The generation loop on the tiny Llama fixture: greedy ids as transformers makes them, seeds,
/// stop rules and bad input.
@Suite struct TextGeneratorTests {
    static func generator() throws -> (TextGenerator<CPUBackend>, TransformersParityTests.Reference) {
        let (directory, reference) = try TransformersParityTests.fixture("llama")
        let model = try DecoderModel(provider: try CheckpointWeights(checkpoint: try Checkpoint.open(directory)), backend: CPUBackend())
        // Small prefill chunks so the chunked path is exercised on a 40-token prompt.
        return (TextGenerator(model: model, tokenizer: nil, blockSize: 8, prefillChunk: 7), reference)
    }

    @Test func greedyMatchesTransformersThroughChunkedPrefill() throws {
        let (generator, reference) = try Self.generator()
        let prompt = reference.prompts.max { $0.count < $1.count }!
        let result = try generator.generate(promptIDs: prompt, parameters: SamplingParameters(temperature: 0, maxTokens: reference.greedy.count, ignoreEOS: true))
        #expect(result.outputIDs == reference.greedy)
        #expect(result.finishReason == .length)
    }

    @Test func sameSeedSameTokensDifferentSeedDifferent() throws {
        let (generator, reference) = try Self.generator()
        let prompt = reference.prompts[0]
        func run(_ seed: UInt64) throws -> [Int] {
            try generator.generate(promptIDs: prompt, parameters: SamplingParameters(temperature: 1.5, seed: seed, maxTokens: 24, ignoreEOS: true)).outputIDs
        }
        #expect(try run(7) == run(7))
        #expect(try run(7) != run(8))
    }

    @Test func stopTokenEndsGeneration() throws {
        let (generator, reference) = try Self.generator()
        let prompt = reference.prompts.max { $0.count < $1.count }!
        let stop = reference.greedy[3]
        let result = try generator.generate(promptIDs: prompt, parameters: SamplingParameters(temperature: 0, maxTokens: 16, stopTokenIDs: [stop], ignoreEOS: true))
        #expect(result.outputIDs.last == stop)
        #expect(result.outputIDs.count == (reference.greedy.firstIndex(of: stop)! + 1))
        #expect(result.finishReason == .stop(.stopTokenID(stop)))
    }

    @Test func badInputIsAnErrorNotACrash() throws {
        let (generator, _) = try Self.generator()
        let context = generator.model.config.contextLength
        func message(_ prompt: [Int], _ parameters: SamplingParameters = SamplingParameters(temperature: 0, maxTokens: 4)) -> String {
            do { _ = try generator.generate(promptIDs: prompt, parameters: parameters); return "no error" } catch { return "\(error)" }
        }
        #expect(message([]).contains("prompt is empty"))
        #expect(message(Array(repeating: 1, count: context)).contains("context is \(context)"))
        #expect(message([1, 99_999]).contains("outside the vocabulary"))
        #expect(message([1], SamplingParameters(temperature: -1)).contains("temperature"))
        #expect(message([1], SamplingParameters(topP: 0)).contains("top-p"))
        // A prompt near the context end: max tokens shrink to fit instead of overflowing the cache.
        let nearEnd = try generator.generate(promptIDs: Array(repeating: 1, count: context - 2),
                                             parameters: SamplingParameters(temperature: 0, maxTokens: 50, ignoreEOS: true))
        #expect(nearEnd.outputIDs.count == 2)
    }
}
