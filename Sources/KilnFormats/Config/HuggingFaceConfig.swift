import Foundation
import KilnCore

/// Reads a Hugging Face model directory's `config.json` (+ `generation_config.json`) into a
/// `ModelConfig`, applying each family's defaults as transformers does when a key is absent.
public enum HuggingFaceConfig {
    /// Families whose config.json Kiln understands (model_type values).
    public static let supportedModelTypes: Set<String> = [
        "llama", "mistral", "qwen2", "gemma", "gemma2", "gemma3", "gemma3_text",
    ]

    /// Reads `directory/config.json` and, when present, `directory/generation_config.json`.
    public static func load(directory: String) throws -> ModelConfig {
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        var json = try readJSONObject(configPath)
        // Multimodal Gemma 3 wraps the language model's settings in text_config.
        if let text = json["text_config"] as? [String: Any] {
            json = text
            if json["model_type"] == nil { json["model_type"] = "gemma3_text" }
        }
        var config = try parse(json, path: configPath)
        let generationPath = (directory as NSString).appendingPathComponent("generation_config.json")
        if FileManager.default.fileExists(atPath: generationPath) {
            let generation = try readJSONObject(generationPath)
            let reader = JSONFields(values: generation, path: generationPath)
            config.generationDefaults = GenerationDefaults(
                temperature: try reader.float("temperature"), topK: try reader.int("top_k"),
                topP: try reader.float("top_p"), repetitionPenalty: try reader.float("repetition_penalty"))
            if let eos = try reader.intList("eos_token_id"), !eos.isEmpty {
                config.eosTokenIDs = Array(Set(config.eosTokenIDs).union(eos)).sorted()
            }
            if config.bosTokenID == nil { config.bosTokenID = try reader.int("bos_token_id") }
        }
        try config.validate(source: configPath)
        return config
    }

    /// Builds a `ModelConfig` from a parsed config.json object.
    public static func parse(_ json: [String: Any], path: String) throws -> ModelConfig {
        let fields = JSONFields(values: json, path: path)
        guard let rawType = try fields.string("model_type") else {
            throw KilnError.invalidFile(path: path, reason: "missing \"model_type\"")
        }
        guard supportedModelTypes.contains(rawType) else {
            throw KilnError.unsupported(path: path, reason: "model_type '\(rawType)' (Kiln supports \(supportedModelTypes.sorted().joined(separator: ", ")))")
        }
        let modelType = rawType == "gemma3_text" ? "gemma3" : rawType
        let isGemma = modelType.hasPrefix("gemma")
        let hidden = try fields.required("hidden_size")
        let heads = try fields.required("num_attention_heads")
        let layers = try fields.required("num_hidden_layers")
        let headDim = try fields.int("head_dim") ?? (heads > 0 ? hidden / heads : 0)

        // RoPE: transformers 4.x writes rope_theta (+ rope_scaling); 5.x writes rope_parameters,
        // either one dict or one per layer type ("full_attention", "sliding_attention").
        var ropeTheta = try fields.float("rope_theta")
        var ropeLocalTheta = try fields.float("rope_local_base_freq")
        var scaling = try ropeScaling(json["rope_scaling"], path: path)
        if let parameters = json["rope_parameters"] as? [String: Any] {
            let global = parameters["full_attention"] as? [String: Any] ?? parameters
            ropeTheta = try JSONFields(values: global, path: path + " rope_parameters").float("rope_theta") ?? ropeTheta
            scaling = try ropeScaling(global, path: path) ?? scaling
            if let local = parameters["sliding_attention"] as? [String: Any] {
                ropeLocalTheta = try JSONFields(values: local, path: path + " rope_parameters").float("rope_theta") ?? ropeLocalTheta
            }
        }

        // Which layers use the sliding window: `layer_types` (newer transformers), else each
        // family's rule (Gemma 2: even layers; Gemma 3: all but every `sliding_window_pattern`-th).
        var slidingWindow = try fields.int("sliding_window")
        var slidingLayers: [Bool] = []
        if let types = json["layer_types"] as? [String] {
            slidingLayers = types.map { $0 == "sliding_attention" }
        } else if modelType == "gemma2" {
            slidingLayers = (0..<layers).map { $0 % 2 == 0 }
        } else if modelType == "gemma3" {
            let pattern = try fields.int("sliding_window_pattern") ?? 6
            slidingLayers = (0..<layers).map { ($0 + 1) % pattern != 0 }
        } else if slidingWindow != nil {
            // Qwen2 ships sliding_window but only uses it with use_sliding_window = true.
            let enabled = try fields.bool("use_sliding_window") ?? (modelType == "mistral")
            slidingLayers = enabled ? Array(repeating: true, count: layers) : []
        }
        if !slidingLayers.contains(true) { slidingWindow = nil; slidingLayers = [] }

        let activation = try fields.string("hidden_activation") ?? fields.string("hidden_act")
            ?? (isGemma ? "gelu_pytorch_tanh" : "silu")
        return ModelConfig(
            modelType: modelType,
            vocabularySize: try fields.required("vocab_size"),
            hiddenSize: hidden,
            intermediateSize: try fields.required("intermediate_size"),
            layerCount: layers,
            attentionHeads: heads,
            kvHeads: try fields.int("num_key_value_heads") ?? heads,
            headDim: headDim,
            contextLength: try fields.int("max_position_embeddings") ?? 2048,
            rmsNormEpsilon: try fields.float("rms_norm_eps") ?? 1e-6,
            ropeTheta: ropeTheta ?? 10_000,
            ropeLocalTheta: modelType == "gemma3" ? (ropeLocalTheta ?? 10_000) : nil,
            ropeScaling: scaling,
            tieWordEmbeddings: try fields.bool("tie_word_embeddings") ?? isGemma,
            hiddenActivation: activation == "gelu" && isGemma ? "gelu_pytorch_tanh" : activation,
            attentionBias: modelType == "qwen2" ? true : (try fields.bool("attention_bias") ?? false),
            slidingWindow: slidingWindow,
            slidingLayers: slidingLayers,
            attentionLogitSoftcap: try fields.float("attn_logit_softcapping"),
            finalLogitSoftcap: try fields.float("final_logit_softcapping"),
            queryPreAttentionScalar: try fields.float("query_pre_attn_scalar"),
            bosTokenID: try fields.int("bos_token_id"),
            eosTokenIDs: try fields.intList("eos_token_id") ?? [],
            torchDtype: try fields.string("torch_dtype") ?? fields.string("dtype"))
    }

    /// A scaling rule from a `rope_scaling` / `rope_parameters` dict; nil for "default" or absent.
    static func ropeScaling(_ value: Any?, path: String) throws -> RopeScaling? {
        guard let rope = value as? [String: Any] else { return nil }
        let fields = JSONFields(values: rope, path: path + " rope parameters")
        let type = try fields.string("rope_type") ?? fields.string("type") ?? "default"
        guard type != "default" else { return nil }
        return RopeScaling(
            type: type, factor: try fields.float("factor") ?? 1,
            lowFrequencyFactor: try fields.float("low_freq_factor"),
            highFrequencyFactor: try fields.float("high_freq_factor"),
            originalContextLength: try fields.int("original_max_position_embeddings"))
    }

    static func readJSONObject(_ path: String) throws -> [String: Any] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw KilnError.missingFile(path: path, reason: "not found")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KilnError.invalidFile(path: path, reason: "cannot read")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let dictionary = object as? [String: Any] else {
            throw KilnError.invalidFile(path: path, reason: "not a JSON object")
        }
        return dictionary
    }
}

/// Typed, error-reporting access to the fields of a JSON object. A present field of the wrong
/// type is an error naming the file and key; `null` counts as absent.
struct JSONFields {
    let values: [String: Any]
    let path: String

    private func present(_ key: String) -> Any? {
        guard let value = values[key], !(value is NSNull) else { return nil }
        return value
    }

    func int(_ key: String) throws -> Int? {
        guard let value = present(key) else { return nil }
        guard let number = value as? NSNumber,
              number.doubleValue == number.doubleValue.rounded() else {
            throw KilnError.invalidFile(path: path, reason: "\"\(key)\" must be an integer, got \(value)")
        }
        return number.intValue
    }

    func required(_ key: String) throws -> Int {
        guard let value = try int(key) else {
            throw KilnError.invalidFile(path: path, reason: "missing \"\(key)\"")
        }
        return value
    }

    func float(_ key: String) throws -> Float? {
        guard let value = present(key) else { return nil }
        guard let number = value as? NSNumber else {
            throw KilnError.invalidFile(path: path, reason: "\"\(key)\" must be a number, got \(value)")
        }
        return number.floatValue
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = present(key) else { return nil }
        guard let flag = value as? Bool else {
            throw KilnError.invalidFile(path: path, reason: "\"\(key)\" must be true or false, got \(value)")
        }
        return flag
    }

    func string(_ key: String) throws -> String? {
        guard let value = present(key) else { return nil }
        guard let text = value as? String else {
            throw KilnError.invalidFile(path: path, reason: "\"\(key)\" must be a string, got \(value)")
        }
        return text
    }

    /// An integer or a list of integers (`eos_token_id` is either).
    func intList(_ key: String) throws -> [Int]? {
        guard let value = present(key) else { return nil }
        if let list = value as? [Any] {
            return try list.map { element in
                guard let number = element as? NSNumber else {
                    throw KilnError.invalidFile(path: path, reason: "\"\(key)\" must hold integers, got \(element)")
                }
                return number.intValue
            }
        }
        return try int(key).map { [$0] }
    }
}
