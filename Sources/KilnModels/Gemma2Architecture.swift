import KilnCore

extension ModelArchitecture {
    /// Gemma 2: Gemma 1 plus post-attention and post-MLP norms, attention-score and final-logit
    /// soft-capping, and sliding-window attention on alternating layers (from the config).
    static func gemma2(_ config: ModelConfig) -> ModelArchitecture {
        ModelArchitecture(family: "gemma2", scalesEmbedding: true, normAddsOne: true,
                          hasPostNorms: true, hasQueryKeyNorm: false, activation: .geluTanh)
    }
}
