/// One transformer block's weights on a backend.
struct DecoderLayerWeights<Weight> {
    let attentionNorm: Weight
    let query: Weight, key: Weight, value: Weight, attentionOutput: Weight
    let queryBias: Weight?, keyBias: Weight?, valueBias: Weight?
    let queryNorm: Weight?, keyNorm: Weight?
    let postAttentionNorm: Weight?
    let feedForwardNorm: Weight
    let gate: Weight, up: Weight, down: Weight
    let postFeedForwardNorm: Weight?
    /// Sliding-window layer (local RoPE base, windowed attention).
    let isSliding: Bool
}
