import KilnBackend
import KilnCore
import KilnFormats

/// Reads logical weights out of an engine's tensors: unfused ones by name, and Q/K/V and
/// gate/up as row ranges of the fused matrices (row-major, so each is a contiguous byte range —
/// a view, not a copy).
struct EngineWeights {
    let config: ModelConfig
    let weights: SafetensorsCheckpoint

    func source(_ weight: LogicalWeight) throws -> WeightSource? {
        if let name = EngineTensorNames.name(of: weight) { return try whole(name) }
        let q = config.attentionHeads * config.headDim, kv = config.kvHeads * config.headDim
        let mlp = config.intermediateSize
        switch weight {
        case let .query(i): return try rows(EngineTensorNames.qkv(i), 0..<q)
        case let .key(i): return try rows(EngineTensorNames.qkv(i), q..<(q + kv))
        case let .value(i): return try rows(EngineTensorNames.qkv(i), (q + kv)..<(q + 2 * kv))
        case let .queryBias(i): return try elements(EngineTensorNames.qkvBias(i), 0..<q)
        case let .keyBias(i): return try elements(EngineTensorNames.qkvBias(i), q..<(q + kv))
        case let .valueBias(i): return try elements(EngineTensorNames.qkvBias(i), (q + kv)..<(q + 2 * kv))
        case let .gate(i): return try rows(EngineTensorNames.gateUp(i), 0..<mlp)
        case let .up(i): return try rows(EngineTensorNames.gateUp(i), mlp..<(2 * mlp))
        default: return nil
        }
    }

    private func whole(_ name: String) throws -> WeightSource? {
        guard let tensor = weights.tensor(name) else { return nil }
        return try WeightSource(name: name, shape: tensor.shape, storage: .dense(tensor.dtype),
                                bytes: try weights.data(of: name), owner: weights)
    }

    /// Rows `range` of the 2-D tensor `name`.
    private func rows(_ name: String, _ range: Range<Int>) throws -> WeightSource? {
        guard let tensor = weights.tensor(name) else { return nil }
        guard tensor.shape.count == 2, range.upperBound <= tensor.shape[0] else {
            throw KilnError.invalidFile(path: name, reason: "engine tensor has shape \(tensor.shape), cannot take rows \(range)")
        }
        let rowBytes = tensor.shape[1] * tensor.dtype.byteSize
        let bytes = try weights.data(of: name)
        return try WeightSource(name: "\(name)[\(range.lowerBound)..<\(range.upperBound)]", shape: [range.count, tensor.shape[1]],
                                storage: .dense(tensor.dtype),
                                bytes: UnsafeRawBufferPointer(rebasing: bytes[(range.lowerBound * rowBytes)..<(range.upperBound * rowBytes)]),
                                owner: weights)
    }

    /// Elements `range` of the 1-D tensor `name`.
    private func elements(_ name: String, _ range: Range<Int>) throws -> WeightSource? {
        guard let tensor = weights.tensor(name) else { return nil }
        guard tensor.shape.count == 1, range.upperBound <= tensor.shape[0] else {
            throw KilnError.invalidFile(path: name, reason: "engine tensor has shape \(tensor.shape), cannot take elements \(range)")
        }
        let size = tensor.dtype.byteSize
        let bytes = try weights.data(of: name)
        return try WeightSource(name: "\(name)[\(range.lowerBound)..<\(range.upperBound)]", shape: [range.count],
                                storage: .dense(tensor.dtype),
                                bytes: UnsafeRawBufferPointer(rebasing: bytes[(range.lowerBound * size)..<(range.upperBound * size)]),
                                owner: weights)
    }
}
