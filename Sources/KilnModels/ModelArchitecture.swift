import KilnBackend
import KilnCore

/// What distinguishes one decoder family from another, as values the shared `DecoderModel`
/// reads. Each family file (`LlamaArchitecture.swift`, `GemmaArchitecture.swift`, ...) builds one.
public struct ModelArchitecture: Sendable, Equatable {
    /// Family name for messages ("llama", "gemma2", ...).
    public var family: String
    /// Embeddings are multiplied by sqrt(hidden) (Gemma).
    public var scalesEmbedding: Bool
    /// RMSNorm weights are stored as w and used as 1 + w (Gemma, in Hugging Face checkpoints;
    /// GGUF converters already added the 1).
    public var normAddsOne: Bool
    /// Attention and MLP outputs are normed before the residual add (Gemma 2/3).
    public var hasPostNorms: Bool
    /// Queries and keys get a per-head RMSNorm before RoPE (Gemma 3).
    public var hasQueryKeyNorm: Bool
    /// MLP activation.
    public var activation: GateActivation

    /// The architecture of a config's family. Throws for families Kiln does not implement.
    public static func forConfig(_ config: ModelConfig) throws -> ModelArchitecture {
        switch config.modelType {
        case "llama", "mistral", "qwen2": return .llama(config)
        case "gemma": return .gemma(config)
        case "gemma2": return .gemma2(config)
        case "gemma3": return .gemma3(config)
        default:
            throw KilnError.invalidArgument("unknown model type '\(config.modelType)' (Kiln implements llama, mistral, qwen2, gemma, gemma2, gemma3)")
        }
    }

    /// The activation named by a config ("silu", "gelu_pytorch_tanh").
    static func activation(_ name: String) -> GateActivation {
        name.hasPrefix("gelu") ? .geluTanh : .silu
    }
}
