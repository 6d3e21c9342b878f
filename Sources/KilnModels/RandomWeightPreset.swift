import KilnCore

/// Published model shapes for `--random-weights PRESET`: speed work needs the exact shapes, not
/// the values (timing does not depend on weights when the output length is fixed).
public enum RandomWeightPreset: String, CaseIterable, Sendable {
    case gemma2B = "gemma-2b"
    case gemma7B = "gemma-7b"
    case llama3_8B = "llama-3-8b"
    case qwen2_5_1_5B = "qwen2.5-1.5b"
    case tinyLlama = "tiny-llama"
    case tinyGemma = "tiny-gemma"

    /// The preset's config (as the published config.json states it).
    public var config: ModelConfig {
        switch self {
        case .gemma2B:
            return ModelConfig(modelType: "gemma", vocabularySize: 256_000, hiddenSize: 2048, intermediateSize: 16_384,
                               layerCount: 18, attentionHeads: 8, kvHeads: 1, headDim: 256, contextLength: 8192,
                               rmsNormEpsilon: 1e-6, ropeTheta: 10_000, tieWordEmbeddings: true,
                               hiddenActivation: "gelu_pytorch_tanh", bosTokenID: 2, eosTokenIDs: [1])
        case .gemma7B:
            return ModelConfig(modelType: "gemma", vocabularySize: 256_000, hiddenSize: 3072, intermediateSize: 24_576,
                               layerCount: 28, attentionHeads: 16, kvHeads: 16, headDim: 256, contextLength: 8192,
                               rmsNormEpsilon: 1e-6, ropeTheta: 10_000, tieWordEmbeddings: true,
                               hiddenActivation: "gelu_pytorch_tanh", bosTokenID: 2, eosTokenIDs: [1])
        case .llama3_8B:
            return ModelConfig(modelType: "llama", vocabularySize: 128_256, hiddenSize: 4096, intermediateSize: 14_336,
                               layerCount: 32, attentionHeads: 32, kvHeads: 8, headDim: 128, contextLength: 8192,
                               rmsNormEpsilon: 1e-5, ropeTheta: 500_000, tieWordEmbeddings: false,
                               hiddenActivation: "silu", bosTokenID: 128_000, eosTokenIDs: [128_001])
        case .qwen2_5_1_5B:
            return ModelConfig(modelType: "qwen2", vocabularySize: 151_936, hiddenSize: 1536, intermediateSize: 8960,
                               layerCount: 28, attentionHeads: 12, kvHeads: 2, headDim: 128, contextLength: 32_768,
                               rmsNormEpsilon: 1e-6, ropeTheta: 1_000_000, tieWordEmbeddings: true,
                               hiddenActivation: "silu", attentionBias: true, bosTokenID: 151_643, eosTokenIDs: [151_645])
        case .tinyLlama:
            return ModelConfig(modelType: "llama", vocabularySize: 512, hiddenSize: 64, intermediateSize: 128,
                               layerCount: 2, attentionHeads: 4, kvHeads: 2, headDim: 16, contextLength: 256,
                               rmsNormEpsilon: 1e-5, ropeTheta: 10_000, tieWordEmbeddings: false, hiddenActivation: "silu",
                               bosTokenID: 1, eosTokenIDs: [2])
        case .tinyGemma:
            return ModelConfig(modelType: "gemma", vocabularySize: 512, hiddenSize: 64, intermediateSize: 128,
                               layerCount: 2, attentionHeads: 4, kvHeads: 1, headDim: 32, contextLength: 256,
                               rmsNormEpsilon: 1e-6, ropeTheta: 10_000, tieWordEmbeddings: true,
                               hiddenActivation: "gelu_pytorch_tanh", bosTokenID: 2, eosTokenIDs: [1])
        }
    }

    /// The preset called `name`, or an error listing the known names.
    public static func named(_ name: String) throws -> RandomWeightPreset {
        guard let preset = RandomWeightPreset(rawValue: name) else {
            throw KilnError.invalidArgument("unknown random-weights preset '\(name)' (known: \(allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return preset
    }
}
