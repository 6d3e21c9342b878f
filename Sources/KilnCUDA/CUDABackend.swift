import Foundation
import KilnBackend
import KilnCore

/// The CUDA backend: every `Backend` op as kernels queued on one stream, in one precision:
/// `.f32` (weights, activations and KV cache in fp32: the parity mode, checked against the CPU
/// reference) or `.bf16` (all three in bf16, fp32 arithmetic inside every kernel: the fast
/// path). Norm weights and biases stay fp32. Each step's batch is uploaded once by `prepare`;
/// `read` synchronises.
///
/// Matrix products go through cuBLASLt (autotuned per shape bucket, fp32 compute, no TF32) when
/// `libcublasLt` loads and weights and activations share a type; otherwise through the reference
/// kernel (one warp per output, fp32 accumulation).
public final class CUDABackend: Backend, @unchecked Sendable {
    public typealias Tensor = DeviceTensor
    public typealias Weight = CUDAWeight
    public typealias Cache = CUDAKVCache

    /// Driver, device, kernels, allocator.
    public let runtime: CUDARuntime
    /// The stream every op is queued on.
    public let stream: CUDAStream
    /// Element type of matrix weights, activations and the KV cache.
    public let precision: DeviceElementType
    /// cuBLASLt products, nil when the library is not found (the reference kernel then runs).
    public let matmul: MatmulEngine?
    var activationType: DeviceElementType { precision }
    var step: CUDAStepBuffers?
    private var ropeTables: [[Float]: DeviceBuffer] = [:]
    private let lock = NSLock()

    /// A backend on `runtime`'s GPU computing in `precision`.
    public init(runtime: CUDARuntime, precision: DeviceElementType = .f32) throws {
        self.runtime = runtime
        self.stream = try CUDAStream(device: runtime.device)
        self.precision = precision
        matmul = try? MatmulEngine(runtime: runtime)
    }

    public var name: String {
        "cuda:\(runtime.device.ordinal) (\(runtime.device.name), matmul: \(matmul.map { "cuBLASLt \($0.blas.versionText)" } ?? "reference kernel"))"
    }

    var kernels: CUDAKernels { runtime.kernels }

    public func loadWeight(_ source: WeightSource) throws -> CUDAWeight {
        let values = try source.floats()
        if source.shape.count == 1 { return try loadVector(values, name: source.name) }
        return try upload(values, rows: source.rows, columns: source.columns, as: precision)
    }

    public func loadVector(_ values: [Float], name: String) throws -> CUDAWeight {
        let vector = try upload(values, rows: 1, columns: values.count, as: .f32)
        guard precision == .bf16 else { return vector }
        let copy = try upload(values, rows: 1, columns: values.count, as: .bf16)
        return CUDAWeight(buffer: vector.buffer, rows: 1, columns: values.count, elementType: .f32, bf16Copy: copy.buffer)
    }

    private func upload(_ values: [Float], rows: Int, columns: Int, as type: DeviceElementType) throws -> CUDAWeight {
        let buffer = try runtime.allocator.allocate(byteCount: max(4, values.count * type.byteSize))
        switch type {
        case .f32:
            try values.withUnsafeBytes { try stream.copy(from: $0, to: buffer) }
        case .bf16:
            let words = values.map { HalfPrecision.floatToBF16($0) }
            try words.withUnsafeBytes { try stream.copy(from: $0, to: buffer) }
        }
        return CUDAWeight(buffer: buffer, rows: rows, columns: columns, elementType: type)
    }

    public func makeTensor(rows: Int, columns: Int) throws -> DeviceTensor {
        let tensor = try DeviceTensor(rows: rows, columns: columns, elementType: activationType, allocator: runtime.allocator)
        try stream.fill(tensor.buffer, byte: 0)
        return tensor
    }

    public func makeCache(_ shape: KVCacheShape) throws -> CUDAKVCache {
        try CUDAKVCache(shape: shape, elementType: activationType, allocator: runtime.allocator, stream: stream)
    }

    public func prepare(_ batch: ForwardBatch) throws {
        // The previous step's buffers go back to the pool only once its kernels are done.
        if step != nil { try stream.synchronize() }
        step = try CUDAStepBuffers(batch: batch, allocator: runtime.allocator, stream: stream)
    }

    /// The prepared step; ops that index with the batch use its device copies.
    func currentStep(rows: Int) throws -> CUDAStepBuffers {
        guard let step, step.batch.tokens.count == rows else {
            throw KilnError.invalidArgument("CUDABackend: an op of \(rows) rows ran without prepare(batch) for that batch")
        }
        return step
    }

    public func embed(tokens: [Int], table: CUDAWeight, scale: Float, into out: DeviceTensor) throws {
        let step = try currentStep(rows: tokens.count)
        try kernels.embed(tokens: step.tokens, table: table.buffer, tableType: table.elementType, vocabulary: table.rows,
                          scale: scale, into: out, on: stream)
    }

    public func rmsNorm(_ x: DeviceTensor, weight: CUDAWeight, epsilon: Float, into out: DeviceTensor) throws {
        try kernels.rmsNorm(x, weight: weight.buffer, epsilon: epsilon, into: out, on: stream)
    }

    public func headRMSNorm(_ x: DeviceTensor, heads: Int, headDim: Int, weight: CUDAWeight, epsilon: Float) throws {
        try kernels.headRMSNorm(x, heads: heads, headDim: headDim, weight: weight.buffer, epsilon: epsilon, on: stream)
    }

    public func linear(_ x: DeviceTensor, weight: CUDAWeight, bias: CUDAWeight?, into out: DeviceTensor) throws {
        precondition(x.columns == weight.columns && out.columns == weight.rows && out.rows == x.rows,
                     "linear: x [\(x.rows), \(x.columns)] · w [\(weight.rows), \(weight.columns)] -> out [\(out.rows), \(out.columns)]")
        guard x.rows > 0, weight.rows > 0 else { return }
        if let matmul, weight.elementType == x.elementType {
            let matrix = DeviceTensor(buffer: weight.buffer, rows: weight.rows, columns: weight.columns, elementType: weight.elementType)
            let biasBuffer = out.elementType == .bf16 ? bias?.bf16Copy : bias?.buffer
            try matmul.linear(x: x, weight: matrix, bias: biasBuffer, out: out, on: stream)
            return
        }
        guard x.elementType == .f32 else {
            throw KilnError.unsupported(path: name, reason: "a \(x.elementType) product without cuBLASLt (install libcublasLt, e.g. pip install nvidia-cublas)")
        }
        var arguments = KernelArguments()
        arguments.pointer(x.buffer)
        arguments.pointer(weight.buffer)
        arguments.pointer(bias?.buffer)
        arguments.pointer(out.buffer)
        arguments.int32(x.rows)
        arguments.int32(weight.rows)
        arguments.int32(x.columns)
        try stream.launch(try kernels.function("linear_reference_\(weight.elementType.suffix)"),
                          grid: ((weight.rows + 7) / 8, x.rows, 1), block: (256, 1, 1), arguments: arguments)
    }

    public func add(_ x: DeviceTensor, into accumulator: DeviceTensor) throws {
        try kernels.add(x, into: accumulator, on: stream)
    }

    public func gatedActivation(gate: DeviceTensor, up: DeviceTensor, activation: GateActivation, into out: DeviceTensor) throws {
        try kernels.gatedActivation(gate: gate, up: up, activation: activation, into: out, on: stream)
    }

    public func rope(_ x: DeviceTensor, heads: Int, headDim: Int, positions: [Int], parameters: RopeParameters) throws {
        let step = try currentStep(rows: positions.count)
        let table = try ropeTable(parameters.inverseFrequencies)
        try kernels.rope(x, heads: heads, headDim: headDim, positions: step.positions, inverseFrequencies: table,
                         pairs: parameters.inverseFrequencies.count, style: parameters.style, on: stream)
    }

    /// Inverse-frequency tables are uploaded once per distinct table (a model has one or two).
    private func ropeTable(_ frequencies: [Float]) throws -> DeviceBuffer {
        lock.lock()
        defer { lock.unlock() }
        if let table = ropeTables[frequencies] { return table }
        let buffer = try runtime.allocator.allocate(byteCount: max(4, frequencies.count * 4))
        try frequencies.withUnsafeBytes { try stream.copy(from: $0, to: buffer) }
        ropeTables[frequencies] = buffer
        return buffer
    }

    public func writeCache(_ cache: CUDAKVCache, layer: Int, keys: DeviceTensor, values: DeviceTensor, slots: [Int]) throws {
        let step = try currentStep(rows: slots.count)
        let width = cache.shape.kvHeads * cache.shape.headDim
        precondition(keys.columns >= width && values.columns >= width && keys.rows == slots.count)
        guard !slots.isEmpty else { return }
        var arguments = KernelArguments()
        arguments.pointer(keys.buffer)
        arguments.pointer(values.buffer)
        arguments.pointer(cache.keys[layer])
        arguments.pointer(cache.values[layer])
        arguments.pointer(step.slots)
        arguments.int32(width)
        arguments.int32(keys.columns)
        arguments.int32(values.columns)
        try stream.launch(try kernels.function("kv_cache_write_\(keys.elementType.suffix)"),
                          grid: (slots.count, 2, 1), block: (128, 1, 1), arguments: arguments)
    }

    public func attention(query: DeviceTensor, cache: CUDAKVCache, layer: Int, batch: ForwardBatch,
                          parameters: AttentionParameters, into out: DeviceTensor) throws {
        let step = try currentStep(rows: batch.tokens.count)
        guard [64, 128, 256].contains(parameters.headDim) else {
            try referenceAttention(query: query, cache: cache, layer: layer, batch: batch, step: step, parameters: parameters, into: out)
            return
        }
        let group = parameters.heads / parameters.kvHeads
        let type = query.elementType
        // ABI of attention_prefill_* (README-attention.md): 128 threads, a tile of packed
        // (token, head-of-group) rows per block in x, kv heads in y, sequences in z.
        let rowsPerBlock = type == .bf16 ? 64 : 32
        let shared = type == .bf16 ? 3 * 64 * (parameters.headDim + 8) * 2 : 3 * 32 * (parameters.headDim + 4) * 4 + 32 * 4
        let function = try kernels.function("attention_prefill_\(type.suffix)_h\(parameters.headDim)")
        if shared > 48 * 1024 { try kernels.setMaxDynamicSharedMemory(function, bytes: shared) }
        let longest = batch.sequences.map(\.tokenCount).max() ?? 0
        guard longest > 0 else { return }
        let arguments = attentionArguments(query: query, cache: cache, layer: layer, step: step, parameters: parameters, out: out)
        try stream.launch(function, grid: ((longest * group + rowsPerBlock - 1) / rowsPerBlock, parameters.kvHeads, batch.sequences.count),
                          block: (128, 1, 1), sharedBytes: shared, arguments: arguments)
    }

    /// The parameters shared by attention_prefill_* and attention_reference_* (README-attention.md).
    func attentionArguments(query: DeviceTensor, cache: CUDAKVCache, layer: Int, step: CUDAStepBuffers,
                            parameters: AttentionParameters, out: DeviceTensor) -> KernelArguments {
        var arguments = KernelArguments()
        arguments.pointer(query.buffer)
        arguments.int32(query.columns)
        arguments.pointer(cache.keys[layer])
        arguments.pointer(cache.values[layer])
        arguments.pointer(out.buffer)
        arguments.int32(out.columns)
        arguments.pointer(step.positions)
        arguments.pointer(step.sequenceTokenStart)
        arguments.pointer(step.sequenceTokenCount)
        arguments.pointer(step.sequenceContextLength)
        arguments.pointer(step.blockTables)
        arguments.int32(step.blockTableStride)
        arguments.int32(cache.shape.blockSize)
        arguments.int32(parameters.heads)
        arguments.int32(parameters.kvHeads)
        arguments.float(parameters.scale)
        arguments.int32(parameters.slidingWindow ?? 0)
        arguments.float(parameters.softcap ?? 0)
        return arguments
    }

    /// Head sizes the tuned kernels do not take (tiny test models): one warp per query head.
    func referenceAttention(query: DeviceTensor, cache: CUDAKVCache, layer: Int, batch: ForwardBatch, step: CUDAStepBuffers,
                            parameters: AttentionParameters, into out: DeviceTensor) throws {
        guard parameters.headDim <= 256 else {
            throw KilnError.unsupported(path: name, reason: "attention head size \(parameters.headDim) (at most 256)")
        }
        let longest = batch.sequences.map(\.tokenCount).max() ?? 0
        guard longest > 0 else { return }
        var arguments = attentionArguments(query: query, cache: cache, layer: layer, step: step, parameters: parameters, out: out)
        arguments.int32(parameters.headDim)
        try stream.launch(try kernels.function("attention_reference_\(query.elementType.suffix)"), grid: (longest, parameters.heads, batch.sequences.count),
                          block: (32, 1, 1), arguments: arguments)
    }

    public func softcap(_ x: DeviceTensor, cap: Float) throws {
        try kernels.softcap(x, cap: cap, on: stream)
    }

    public func gatherRows(_ x: DeviceTensor, rows: [Int], into out: DeviceTensor) throws {
        guard !rows.isEmpty else { return }
        let indices = try runtime.allocator.allocate(byteCount: rows.count * 4)
        let values = rows.map { Int32($0) }
        try values.withUnsafeBytes { try stream.copy(from: $0, to: indices) }
        var arguments = KernelArguments()
        arguments.pointer(x.buffer)
        arguments.pointer(indices)
        arguments.pointer(out.buffer)
        arguments.int32(x.columns)
        try stream.launch(try kernels.function("gather_rows_\(x.elementType.suffix)"), grid: (rows.count, 1, 1), block: (256, 1, 1), arguments: arguments)
        try stream.synchronize() // `indices` is released on return
    }

    public func read(_ x: DeviceTensor) throws -> [Float] {
        switch x.elementType {
        case .f32:
            var values = [Float](repeating: 0, count: x.count)
            try values.withUnsafeMutableBytes { try stream.copy(from: x.buffer, to: $0) }
            return values
        case .bf16:
            var words = [UInt16](repeating: 0, count: x.count)
            try words.withUnsafeMutableBytes { try stream.copy(from: x.buffer, to: $0) }
            return words.map { HalfPrecision.bf16ToFloat($0) }
        }
    }
}
