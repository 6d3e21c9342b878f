import KilnCore

extension ModelArchitecture {
    /// Gemma 3: Gemma 2's block without soft-capping of scores, plus per-head QK-norm, and
    /// separate RoPE bases for local (sliding-window) and global layers.
    static func gemma3(_ config: ModelConfig) -> ModelArchitecture {
        ModelArchitecture(family: "gemma3", scalesEmbedding: true, normAddsOne: true,
                          hasPostNorms: true, hasQueryKeyNorm: true, activation: .geluTanh)
    }
}
