import KilnCore

extension ModelArchitecture {
    /// Llama 2/3, Mistral, Qwen2 (QKV bias read from the checkpoint when present), SmolLM:
    /// pre-norm blocks, SwiGLU, RoPE (Llama 3 frequency scaling from the config).
    static func llama(_ config: ModelConfig) -> ModelArchitecture {
        ModelArchitecture(family: config.modelType, scalesEmbedding: false, normAddsOne: false,
                          hasPostNorms: false, hasQueryKeyNorm: false,
                          activation: activation(config.hiddenActivation))
    }
}
