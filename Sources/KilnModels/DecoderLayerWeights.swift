/// One transformer block's weights on a backend.
struct DecoderLayerWeights<Weight> {
    let attentionNorm: Weight
    /// Separate Q/K/V matrices, or (when the backend joins them) nil and `qkv`.
    let query: Weight?, key: Weight?, value: Weight?
    /// Query rows, key rows, value rows: `[(heads + 2 kvHeads) * headDim, hidden]`, and their
    /// joined bias when the model has Q/K/V biases.
    let qkv: Weight?, qkvBias: Weight?
    let attentionOutput: Weight
    let queryBias: Weight?, keyBias: Weight?, valueBias: Weight?
    let queryNorm: Weight?, keyNorm: Weight?
    let postAttentionNorm: Weight?
    let feedForwardNorm: Weight
    /// Separate gate and up matrices, or (when the backend fuses them) nil and `gateUp`.
    let gate: Weight?, up: Weight?
    /// Gate rows then up rows, `[2 * mlp, hidden]`, when the backend joined them.
    let gateUp: Weight?
    let down: Weight
    let postFeedForwardNorm: Weight?
    /// Sliding-window layer (local RoPE base, windowed attention).
    let isSliding: Bool
}
