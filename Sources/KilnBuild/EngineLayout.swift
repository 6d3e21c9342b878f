import KilnBackend
import KilnCore
import KilnFormats
import KilnModels

/// Every tensor an engine will hold, with how to produce its bytes from the source checkpoint.
/// Matrices are converted to the engine dtype; 1-D weights (norms, biases, RoPE divisors) stay
/// fp32 (they are small and read in fp32 by every kernel).
struct EngineLayout {
    /// One engine tensor.
    struct Tensor {
        let declaration: SafetensorsStreamWriter.Declaration
        /// Produces the tensor's bytes (reads and converts the source on demand).
        let bytes: () throws -> [UInt8]
    }

    let tensors: [Tensor]

    var totalBytes: Int { tensors.reduce(0) { $0 + $1.declaration.byteCount } }

    init(config: ModelConfig, provider: any WeightProvider, dtype: DType) throws {
        var tensors: [Tensor] = []
        /// A tensor made by stacking the rows of `parts` (all with the same column count).
        func stacked(_ name: String, _ parts: [LogicalWeight], vector: Bool) throws {
            let sources = try parts.map { part -> WeightSource in
                guard let source = try provider.source(part) else {
                    throw KilnError.invalidArgument("checkpoint has no tensor for \(part)")
                }
                return source
            }
            // Vectors concatenate; matrices stack rows and must agree on columns.
            let rows = vector ? 1 : sources.reduce(0) { $0 + $1.rows }
            let columns = vector ? sources.reduce(0) { $0 + $1.columns } : sources[0].columns
            guard vector || sources.allSatisfy({ $0.columns == columns }) else {
                throw KilnError.invalidArgument("cannot fuse \(parts): column counts \(sources.map(\.columns)) differ")
            }
            let elementType: DType = vector ? .f32 : dtype
            let shape = vector ? [columns] : [rows, columns]
            tensors.append(Tensor(declaration: .init(name: name, dtype: elementType, shape: shape)) {
                var floats: [Float] = []
                floats.reserveCapacity(rows * columns)
                for source in sources { floats.append(contentsOf: try source.floats()) }
                return Self.encode(floats, as: elementType)
            })
        }
        func single(_ weight: LogicalWeight, optional: Bool = false) throws {
            guard let source = try provider.source(weight) else {
                if optional { return }
                throw KilnError.invalidArgument("checkpoint has no tensor for \(weight)")
            }
            try stacked(EngineTensorNames.name(of: weight)!, [weight], vector: source.shape.count == 1)
        }

        try single(.embedding)
        if !config.tieWordEmbeddings || provider.usesGGUFConventions { try single(.output, optional: true) }
        try single(.finalNorm)
        try single(.ropeFrequencies, optional: true)
        for layer in 0..<config.layerCount {
            try single(.attentionNorm(layer: layer))
            try stacked(EngineTensorNames.qkv(layer), [.query(layer: layer), .key(layer: layer), .value(layer: layer)], vector: false)
            if try provider.source(.queryBias(layer: layer)) != nil {
                try stacked(EngineTensorNames.qkvBias(layer), [.queryBias(layer: layer), .keyBias(layer: layer), .valueBias(layer: layer)], vector: true)
            }
            try single(.queryNorm(layer: layer), optional: true)
            try single(.keyNorm(layer: layer), optional: true)
            try single(.attentionOutput(layer: layer))
            try single(.postAttentionNorm(layer: layer), optional: true)
            try single(.feedForwardNorm(layer: layer))
            try stacked(EngineTensorNames.gateUp(layer), [.gate(layer: layer), .up(layer: layer)], vector: false)
            try single(.down(layer: layer))
            try single(.postFeedForwardNorm(layer: layer), optional: true)
        }
        self.tensors = tensors
    }

    /// Groups tensors into files of at most `maxBytes` (a tensor larger than that gets its own).
    func shards(maxBytes: Int) -> [[Tensor]] {
        var shards: [[Tensor]] = [[]]
        var size = 0
        for tensor in tensors {
            if size + tensor.declaration.byteCount > maxBytes, !shards[shards.count - 1].isEmpty {
                shards.append([])
                size = 0
            }
            shards[shards.count - 1].append(tensor)
            size += tensor.declaration.byteCount
        }
        return shards
    }

    /// Little-endian bytes of `values` as `dtype` (bf16 rounds to nearest even).
    static func encode(_ values: [Float], as dtype: DType) -> [UInt8] {
        switch dtype {
        case .bf16:
            var bytes = [UInt8](repeating: 0, count: values.count * 2)
            bytes.withUnsafeMutableBytes { raw in
                let words = raw.bindMemory(to: UInt16.self)
                for index in values.indices { words[index] = HalfPrecision.floatToBF16(values[index]).littleEndian }
            }
            return bytes
        default:
            var bytes = [UInt8](repeating: 0, count: values.count * 4)
            bytes.withUnsafeMutableBytes { raw in
                let words = raw.bindMemory(to: UInt32.self)
                for index in values.indices { words[index] = values[index].bitPattern.littleEndian }
            }
            return bytes
        }
    }
}
