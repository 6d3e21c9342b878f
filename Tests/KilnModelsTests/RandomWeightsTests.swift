import KilnBackend
import KilnCPU
import Testing
@testable import KilnModels

@Suite struct RandomWeightsTests {
    @Test(arguments: [RandomWeightPreset.tinyLlama, .tinyGemma])
    func tinyPresetsRunDeterministically(preset: RandomWeightPreset) throws {
        func logits() throws -> [Float] {
            let backend = CPUBackend()
            let model = try DecoderModel(provider: RandomWeights(config: preset.config, seed: 3), backend: backend)
            let cache = try backend.makeCache(model.cacheShape(blocks: 2, blockSize: 8))
            return try model.forward(.single(tokens: [1, 2, 3, 4, 5], startPosition: 0, blockTable: [0, 1], blockSize: 8), cache: cache)[0]
        }
        let first = try logits()
        #expect(first.count == preset.config.vocabularySize)
        #expect(first.allSatisfy { $0.isFinite })
        #expect(Set(first).count > first.count / 2, "logits should vary across the vocabulary")
        #expect(try logits() == first)
    }

    @Test func publishedShapes() throws {
        let gemma = RandomWeightPreset.gemma2B.config
        #expect([gemma.hiddenSize, gemma.layerCount, gemma.attentionHeads, gemma.kvHeads, gemma.headDim, gemma.intermediateSize, gemma.vocabularySize]
                == [2048, 18, 8, 1, 256, 16384, 256_000])
        #expect(throws: (any Error).self) { try RandomWeightPreset.named("gemma-3b") }
        let weights = RandomWeights(config: gemma)
        // Tied head: no separate output weight; MQA: one kv head of 256.
        #expect(try weights.source(.output) == nil)
        #expect(try weights.source(.key(layer: 0))?.shape == [256, 2048])
    }
}
