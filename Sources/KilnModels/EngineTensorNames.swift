/// Tensor names inside a Kiln engine: one place, shared by `kiln build` (writer) and
/// `EngineWeights` (reader). Q/K/V and gate/up are fused along the output rows.
public enum EngineTensorNames {
    public static let embedding = "embedding.weight"
    public static let output = "output.weight"
    public static let finalNorm = "final_norm.weight"
    public static let ropeFrequencies = "rope_frequencies"

    /// `[q + k + v rows, hidden]`: queries, then keys, then values.
    public static func qkv(_ layer: Int) -> String { "layers.\(layer).qkv.weight" }
    /// `[q + k + v]` biases, same order (Qwen2).
    public static func qkvBias(_ layer: Int) -> String { "layers.\(layer).qkv.bias" }
    /// `[2 * mlp, hidden]`: gate rows, then up rows.
    public static func gateUp(_ layer: Int) -> String { "layers.\(layer).gate_up.weight" }
    public static func attentionOutput(_ layer: Int) -> String { "layers.\(layer).attention_output.weight" }
    public static func down(_ layer: Int) -> String { "layers.\(layer).down.weight" }

    /// The engine name of an unfused logical weight (norms, output projections, embedding).
    public static func name(of weight: LogicalWeight) -> String? {
        switch weight {
        case .embedding: return embedding
        case .output: return output
        case .finalNorm: return finalNorm
        case .ropeFrequencies: return ropeFrequencies
        case let .attentionNorm(i): return "layers.\(i).attention_norm.weight"
        case let .postAttentionNorm(i): return "layers.\(i).post_attention_norm.weight"
        case let .feedForwardNorm(i): return "layers.\(i).feed_forward_norm.weight"
        case let .postFeedForwardNorm(i): return "layers.\(i).post_feed_forward_norm.weight"
        case let .queryNorm(i): return "layers.\(i).query_norm.weight"
        case let .keyNorm(i): return "layers.\(i).key_norm.weight"
        case let .attentionOutput(i): return attentionOutput(i)
        case let .down(i): return down(i)
        case .query, .key, .value, .queryBias, .keyBias, .valueBias, .gate, .up: return nil // fused
        }
    }
}
