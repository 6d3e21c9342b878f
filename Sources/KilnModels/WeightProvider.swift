import KilnBackend
import KilnCore
import KilnFormats

/// Where a model's weights come from: a checkpoint (GGUF, safetensors) or generated random
/// weights. Returns each logical weight in its stored form.
public protocol WeightProvider: Sendable {
    /// The model's config.
    var config: ModelConfig { get }
    /// True when the weights are in GGUF's conventions (Q/K permuted for Llama's interleaved
    /// RoPE, Gemma norms stored as 1 + w).
    var usesGGUFConventions: Bool { get }
    /// The weight, or nil when the checkpoint does not have it (optional biases, tied heads).
    func source(_ weight: LogicalWeight) throws -> WeightSource?
}

/// Weights read from an opened checkpoint, by the names `WeightNaming` gives.
public struct CheckpointWeights: WeightProvider, @unchecked Sendable {
    public let checkpoint: Checkpoint
    public let config: ModelConfig
    let naming: WeightNaming

    /// Reads the config of `checkpoint`.
    public init(checkpoint: Checkpoint) throws {
        self.checkpoint = checkpoint
        config = try checkpoint.modelConfig()
        switch checkpoint {
        case .gguf: naming = .gguf
        case .huggingFace, .engine: naming = .huggingFace(modelType: config.modelType)
        }
    }

    public var usesGGUFConventions: Bool {
        switch checkpoint {
        case .gguf: return true
        case let .engine(_, manifest, _): return manifest.ggufConventions
        case .huggingFace: return false
        }
    }

    public func source(_ weight: LogicalWeight) throws -> WeightSource? {
        if case let .engine(_, _, weights) = checkpoint {
            return try EngineWeights(config: config, weights: weights).source(weight)
        }
        guard let name = naming.name(of: weight) else { return nil }
        switch checkpoint {
        case let .gguf(file):
            guard let tensor = file.tensorsByName[name] else { return nil }
            return try WeightSource(name: name, shape: tensor.rowMajorShape, storage: .ggml(tensor.type),
                                    bytes: try file.data(of: tensor), owner: file)
        case let .huggingFace(_, weights), let .engine(_, _, weights):
            guard let tensor = weights.tensor(name) else { return nil }
            return try WeightSource(name: name, shape: tensor.shape, storage: .dense(tensor.dtype),
                                    bytes: try weights.data(of: name), owner: weights)
        }
    }
}
