import KilnCore

/// One matrix product `DecoderModel.forward` runs: out[M, N] = x[M, K] · W[N, K]ᵀ (+ bias),
/// with the most rows M it sees under an engine's planned limits. `kiln build` autotunes these
/// ahead of time.
public struct DecoderProduct: Hashable, Sendable {
    /// What it computes ("q", "k", "v", "o", "gate", "up", "down", "lm_head").
    public var name: String
    /// N: rows of the weight.
    public var outputs: Int
    /// K: columns of the weight.
    public var inputs: Int
    /// Whether a bias is added (Q/K/V of Qwen2-style models).
    public var bias: Bool
    /// The most rows (tokens) it is run on.
    public var maxRows: Int

    /// Creates a product.
    public init(name: String, outputs: Int, inputs: Int, bias: Bool, maxRows: Int) {
        self.name = name
        self.outputs = outputs
        self.inputs = inputs
        self.bias = bias
        self.maxRows = maxRows
    }

    /// The products of one step of `config`'s model, in the order `forward` runs them. The layer
    /// products see every token of a step (up to `maxTokens`); the LM head only the rows whose
    /// logits are wanted, one per sequence (up to `maxBatch`). Q/K/V are one product ("qkv") and
    /// gate and up one `[2 * mlp, hidden]` product ("gate_up"), as `forward` runs them on a
    /// backend that joins them (CUDA, through `Backend.concatenateRows`): when `forward` changes
    /// which products it runs, this list changes with it.
    public static func all(config: ModelConfig, queryKeyValueBias: Bool, maxTokens: Int, maxBatch: Int) -> [DecoderProduct] {
        let hidden = config.hiddenSize, qWidth = config.attentionHeads * config.headDim
        let kvWidth = config.kvHeads * config.headDim, mlp = config.intermediateSize
        let tokens = max(1, maxTokens), rows = max(1, min(maxBatch, maxTokens))
        return [
            DecoderProduct(name: "qkv", outputs: qWidth + 2 * kvWidth, inputs: hidden, bias: queryKeyValueBias, maxRows: tokens),
            DecoderProduct(name: "o", outputs: hidden, inputs: qWidth, bias: false, maxRows: tokens),
            DecoderProduct(name: "gate_up", outputs: 2 * mlp, inputs: hidden, bias: false, maxRows: tokens),
            DecoderProduct(name: "down", outputs: hidden, inputs: mlp, bias: false, maxRows: tokens),
            DecoderProduct(name: "lm_head", outputs: config.vocabularySize, inputs: hidden, bias: false, maxRows: rows),
        ]
    }
}
