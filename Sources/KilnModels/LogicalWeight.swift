/// A weight by its role in the model, independent of checkpoint naming.
public enum LogicalWeight: Hashable, Sendable, CustomStringConvertible {
    case embedding
    case finalNorm
    case output
    /// Norm before attention.
    case attentionNorm(layer: Int)
    /// Gemma 2/3: norm of the attention output before the residual add.
    case postAttentionNorm(layer: Int)
    /// Norm before the MLP.
    case feedForwardNorm(layer: Int)
    /// Gemma 2/3: norm of the MLP output before the residual add.
    case postFeedForwardNorm(layer: Int)
    case query(layer: Int), key(layer: Int), value(layer: Int), attentionOutput(layer: Int)
    case queryBias(layer: Int), keyBias(layer: Int), valueBias(layer: Int)
    /// Gemma 3: per-head RMSNorm of queries and keys.
    case queryNorm(layer: Int), keyNorm(layer: Int)
    case gate(layer: Int), up(layer: Int), down(layer: Int)
    /// llama.cpp's per-pair RoPE frequency divisors (Llama 3.1 scaling baked into GGUF).
    case ropeFrequencies

    /// True for RMSNorm weights (which Gemma stores as w with the model using 1 + w).
    public var isNorm: Bool {
        switch self {
        case .finalNorm, .attentionNorm, .postAttentionNorm, .feedForwardNorm, .postFeedForwardNorm, .queryNorm, .keyNorm: return true
        default: return false
        }
    }

    public var description: String { "\(self)".replacingOccurrences(of: "KilnModels.LogicalWeight.", with: "") }
}
