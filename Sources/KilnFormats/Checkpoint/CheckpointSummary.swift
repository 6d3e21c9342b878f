import KilnCore

/// What `kiln inspect` reports about a checkpoint: sizes, storage types and memory needs.
public struct CheckpointSummary: Sendable {
    /// Where the checkpoint is.
    public let path: String
    /// "GGUF v3" or "safetensors (N files)".
    public let format: String
    /// The model's config.
    public let config: ModelConfig
    /// `general.name` or the directory name.
    public let name: String?
    /// Total number of parameters (elements of every tensor).
    public let parameterCount: Int
    /// Number of tensors.
    public let tensorCount: Int
    /// Tensor count per storage type ("Q4_K": 169), sorted by type name.
    public let tensorsByType: [(type: String, count: Int)]
    /// Parameters per storage type.
    public let parametersByType: [(type: String, count: Int)]
    /// Bytes the weights take as stored.
    public let storedBytes: Int

    /// Bytes of weights once converted to bf16 (2 bytes a parameter).
    public var bf16Bytes: Int { parameterCount * 2 }

    /// Bytes of bf16 KV cache per token of context: layers x 2 (K, V) x kvHeads x headDim x 2 bytes.
    public var kvCacheBytesPerToken: Int { config.layerCount * 2 * config.kvHeads * config.headDim * 2 }

    /// Summarises an opened checkpoint.
    public init(checkpoint: Checkpoint) throws {
        path = checkpoint.path
        config = try checkpoint.modelConfig()
        let tensors = checkpoint.tensorSummaries
        switch checkpoint {
        case let .gguf(file):
            format = "GGUF v\(file.version)"
            name = file.metadata["general.name"]?.stringValue
        case let .huggingFace(directory, weights):
            format = "safetensors (\(weights.files.count) file\(weights.files.count == 1 ? "" : "s"))"
            name = directory.split(separator: "/").last.map(String.init)
        case let .engine(directory, manifest, weights):
            format = "Kiln engine v\(manifest.formatVersion), \(manifest.dtype), \(weights.files.count) weight file\(weights.files.count == 1 ? "" : "s"), built by Kiln \(manifest.kilnVersion)"
            name = directory.split(separator: "/").last.map(String.init)
        }
        parameterCount = tensors.reduce(0) { $0 + $1.elementCount }
        tensorCount = tensors.count
        storedBytes = tensors.reduce(0) { $0 + $1.byteCount }
        var counts: [String: Int] = [:]
        var parameters: [String: Int] = [:]
        for tensor in tensors {
            counts[tensor.storageType, default: 0] += 1
            parameters[tensor.storageType, default: 0] += tensor.elementCount
        }
        tensorsByType = counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        parametersByType = parameters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}
