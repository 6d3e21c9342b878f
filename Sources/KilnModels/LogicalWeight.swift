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

    /// A stable spelling ("query.3"), used in messages and to seed random weights.
    public var description: String {
        switch self {
        case .embedding: return "embedding"
        case .finalNorm: return "finalNorm"
        case .output: return "output"
        case .ropeFrequencies: return "ropeFrequencies"
        case let .attentionNorm(i): return "attentionNorm.\(i)"
        case let .postAttentionNorm(i): return "postAttentionNorm.\(i)"
        case let .feedForwardNorm(i): return "feedForwardNorm.\(i)"
        case let .postFeedForwardNorm(i): return "postFeedForwardNorm.\(i)"
        case let .query(i): return "query.\(i)"
        case let .key(i): return "key.\(i)"
        case let .value(i): return "value.\(i)"
        case let .attentionOutput(i): return "attentionOutput.\(i)"
        case let .queryBias(i): return "queryBias.\(i)"
        case let .keyBias(i): return "keyBias.\(i)"
        case let .valueBias(i): return "valueBias.\(i)"
        case let .queryNorm(i): return "queryNorm.\(i)"
        case let .keyNorm(i): return "keyNorm.\(i)"
        case let .gate(i): return "gate.\(i)"
        case let .up(i): return "up.\(i)"
        case let .down(i): return "down.\(i)"
        }
    }
}
