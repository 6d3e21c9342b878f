import KilnBackend
import KilnCore
import KilnFormats
import KilnModels
import Testing

/// The products `kiln build` autotunes are the shapes `DecoderModel.forward` runs.
@Suite struct DecoderProductsTests {
    @Test func productsFollowTheConfigAndLimits() {
        let config = RandomWeightPreset.tinyLlama.config
        let products = DecoderProduct.all(config: config, queryKeyValueBias: false, maxTokens: 8192, maxBatch: 64)
        let hidden = config.hiddenSize, q = config.attentionHeads * config.headDim, kv = config.kvHeads * config.headDim
        #expect(products.map(\.name) == ["qkv", "o", "gate_up", "down", "lm_head"])
        #expect(products.map(\.outputs) == [q + 2 * kv, hidden, 2 * config.intermediateSize, hidden, config.vocabularySize])
        #expect(products.map(\.inputs) == [hidden, q, hidden, config.intermediateSize, hidden])
        #expect(products.allSatisfy { !$0.bias })
        #expect(products.dropLast().allSatisfy { $0.maxRows == 8192 } && products.last?.maxRows == 64)

        let biased = DecoderProduct.all(config: config, queryKeyValueBias: true, maxTokens: 16, maxBatch: 64)
        #expect(biased.map(\.bias) == [true, false, false, false, false])
        // A step never has more logit rows than tokens.
        #expect(biased.last?.maxRows == 16)
    }

    /// Every weight `forward` multiplies by appears with its shape and bias: checked against the
    /// fixture checkpoints' tensors (which `DecoderModel` loads with these shapes; only qwen2
    /// has Q/K/V biases).
    @Test(arguments: ["llama", "qwen2", "gemma", "gemma2", "gemma3"])
    func shapesMatchTheCheckpointsWeights(family: String) throws {
        let (path, _) = try TransformersParityTests.fixture(family)
        let weights = try CheckpointWeights(checkpoint: try Checkpoint.open(path))
        let config = weights.config
        let bias = try weights.source(.queryBias(layer: 0)) != nil
        #expect(bias == (family == "qwen2"))
        let products = DecoderProduct.all(config: config, queryKeyValueBias: bias, maxTokens: 8, maxBatch: 1)
        let named = Dictionary(uniqueKeysWithValues: products.map { ($0.name, $0) })
        let expected: [(String, LogicalWeight)] = [("o", .attentionOutput(layer: 0)), ("down", .down(layer: 0)), ("lm_head", .embedding)]
        // Q/K/V run as one product of their rows stacked.
        let q = try #require(try weights.source(.query(layer: 0))), k = try #require(try weights.source(.key(layer: 0)))
        let v = try #require(try weights.source(.value(layer: 0)))
        #expect(named["qkv"]?.outputs == q.rows + k.rows + v.rows && named["qkv"]?.inputs == q.columns)
        #expect(named["qkv"]?.bias == bias)
        // gate and up run as one product of their rows stacked.
        let gate = try #require(try weights.source(.gate(layer: 0))), up = try #require(try weights.source(.up(layer: 0)))
        #expect(named["gate_up"]?.outputs == gate.rows + up.rows && named["gate_up"]?.inputs == gate.columns && up.columns == gate.columns)
        for (name, weight) in expected {
            let source = try #require(try weights.source(weight))
            #expect(named[name]?.outputs == source.rows && named[name]?.inputs == source.columns, "\(family) \(name)")
            #expect(named[name]?.bias == false)
        }
    }
}
