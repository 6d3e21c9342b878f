import KilnCore

extension GGUFFile {
    /// GGUF architectures Kiln maps to a `ModelConfig` (general.architecture values).
    public static let supportedArchitectures: Set<String> = ["llama", "qwen2", "gemma", "gemma2", "gemma3"]

    /// The model's config from `{arch}.*` metadata, with llama.cpp's per-architecture rules for
    /// what GGUF does not store (Gemma 3's local RoPE base and sliding pattern, Gemma 2's
    /// alternating layers, Qwen2's QKV bias).
    public func modelConfig() throws -> ModelConfig {
        guard let arch = architecture else {
            throw KilnError.invalidFile(path: path, reason: "missing general.architecture")
        }
        guard Self.supportedArchitectures.contains(arch) else {
            throw KilnError.unsupported(path: path, reason: "architecture '\(arch)' (Kiln supports \(Self.supportedArchitectures.sorted().joined(separator: ", ")))")
        }
        func int(_ key: String) -> Int? { metadata["\(arch).\(key)"]?.intValue }
        func float(_ key: String) -> Float? { metadata["\(arch).\(key)"]?.doubleValue.map(Float.init) }
        func required(_ key: String) throws -> Int {
            guard let value = int(key) else {
                throw KilnError.invalidFile(path: path, reason: "missing or non-integer \(arch).\(key)")
            }
            return value
        }
        let hidden = try required("embedding_length")
        let heads = try required("attention.head_count")
        let layers = try required("block_count")
        // head_count_kv may be an array (one per layer); Kiln needs it uniform.
        var kvHeads = heads
        if let value = metadata["\(arch).attention.head_count_kv"] {
            if let single = value.intValue {
                kvHeads = single
            } else if let perLayer = value.arrayValue?.intValues, let first = perLayer.first, perLayer.allSatisfy({ $0 == first }) {
                kvHeads = first
            } else {
                throw KilnError.unsupported(path: path, reason: "per-layer kv head counts \(value.summary)")
            }
        }
        let vocabulary = int("vocab_size")
            ?? metadata["tokenizer.ggml.tokens"]?.arrayValue?.count
            ?? tensorsByName["token_embd.weight"]?.dimensions.last
        guard let vocabulary else {
            throw KilnError.invalidFile(path: path, reason: "cannot tell the vocabulary size (no \(arch).vocab_size, tokens or token_embd.weight)")
        }

        var scaling: RopeScaling? = nil
        if let type = metadata["\(arch).rope.scaling.type"]?.stringValue, type != "none" {
            scaling = RopeScaling(type: type, factor: float("rope.scaling.factor") ?? 1,
                                  originalContextLength: int("rope.scaling.original_context_length"))
        }
        let slidingWindow = int("attention.sliding_window")
        var slidingLayers: [Bool] = []
        if slidingWindow != nil {
            switch arch {
            case "gemma2": slidingLayers = (0..<layers).map { $0 % 2 == 0 }
            case "gemma3":
                if let pattern = metadata["\(arch).attention.sliding_window_pattern"]?.arrayValue?.boolValues, pattern.count == layers {
                    slidingLayers = pattern
                } else {
                    let period = int("attention.sliding_window_pattern") ?? 6
                    slidingLayers = (0..<layers).map { ($0 + 1) % period != 0 }
                }
            default: slidingLayers = Array(repeating: true, count: layers)
            }
        }
        let headDim = int("attention.key_length") ?? hidden / max(heads, 1)
        let isGemma = arch.hasPrefix("gemma")
        let config = ModelConfig(
            modelType: arch,
            vocabularySize: vocabulary,
            hiddenSize: hidden,
            intermediateSize: try required("feed_forward_length"),
            layerCount: layers,
            attentionHeads: heads,
            kvHeads: kvHeads,
            headDim: headDim,
            contextLength: int("context_length") ?? 2048,
            rmsNormEpsilon: float("attention.layer_norm_rms_epsilon") ?? 1e-6,
            ropeTheta: float("rope.freq_base") ?? 10_000,
            ropeLocalTheta: arch == "gemma3" ? (float("rope.freq_base_swa") ?? 10_000) : nil,
            ropeScaling: scaling,
            tieWordEmbeddings: tensorsByName["output.weight"] == nil,
            hiddenActivation: isGemma ? "gelu_pytorch_tanh" : "silu",
            attentionBias: tensorsByName["blk.0.attn_q.bias"] != nil,
            slidingWindow: slidingLayers.contains(true) ? slidingWindow : nil,
            slidingLayers: slidingLayers.contains(true) ? slidingLayers : [],
            attentionLogitSoftcap: float("attn_logit_softcapping"),
            finalLogitSoftcap: float("final_logit_softcapping"),
            queryPreAttentionScalar: arch == "gemma2" || arch == "gemma3" ? Float(headDim) : nil,
            bosTokenID: metadata["tokenizer.ggml.bos_token_id"]?.intValue,
            eosTokenIDs: metadata["tokenizer.ggml.eos_token_id"]?.intValue.map { [$0] } ?? [],
            torchDtype: nil)
        try config.validate(source: path)
        return config
    }
}
