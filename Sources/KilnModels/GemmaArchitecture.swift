import KilnCore

extension ModelArchitecture {
    /// Gemma 1 (Gemma-2B/7B): embeddings scaled by sqrt(hidden), RMSNorm with 1 + w, GeGLU
    /// (tanh), tied output head, head size 256, MQA on 2B.
    static func gemma(_ config: ModelConfig) -> ModelArchitecture {
        ModelArchitecture(family: "gemma", scalesEmbedding: true, normAddsOne: true,
                          hasPostNorms: false, hasQueryKeyNorm: false, activation: .geluTanh)
    }
}
