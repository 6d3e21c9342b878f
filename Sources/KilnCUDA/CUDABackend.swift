import Foundation
import Synchronization
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
    /// The step the ops index with: `eagerStep`, or a recorded step's own buffers.
    var step: CUDAStepBuffers?
    /// Step buffers reused by steps that run without a recording.
    var eagerStep: CUDAStepBuffers?
    /// Whether decode steps are recorded as CUDA graphs and replayed (`KILN_CUDA_GRAPHS=0` turns
    /// it off, for comparisons).
    public var usesGraphs: Bool
    /// The recording being made, if any.
    var recording: StepRecorder?
    /// Recorded steps by shape, and the shapes seen once (recorded at their second step).
    var recordedSteps: [RecordedStepKey: RecordedStep] = [:]
    var seenStepKeys: Set<RecordedStepKey> = []
    /// Shapes whose recording failed: they run op by op.
    var unrecordableStepKeys: Set<RecordedStepKey> = []
    /// runStep calls so far (KILN_TRACE traces the KILN_TRACE_STEP-th).
    var stepsRun = 0
    private var ropeTables: [[Float]: DeviceBuffer] = [:]
    /// Whether GEMV shapes are timed at first use (else the fixed rule): off where two backends
    /// must give the same bits (each would time on its own and may pick another summation order).
    public var tunesGEMV = true
    /// For checks: every GEMV launch in this configuration (no timing).
    public var forcedGEMVChoice: GEMVChoice?
    /// Split-K scratch of the GEMV kernels, made at first need (CUDABackend+Linear.swift).
    var gemvSplit: (workspace: DeviceBuffer, counters: DeviceBuffer)?
    /// GEMV configurations timed per shape (CUDABackend+Linear.swift).
    let gemvChoices = Mutex<[GEMVKey: GEMVChoice]>([:])
    /// For checks: every skinny-GEMM launch (9-64 rows) in this configuration (no timing).
    public var forcedSkinnyChoice: SkinnyGEMMChoice?
    /// Skinny kernel or library, timed per shape (CUDABackend+SkinnyGEMM.swift).
    let skinnyPaths = Mutex<[GEMVKey: SkinnyProductPath]>([:])
    /// Kernels (skinny GEMM) whose dynamic shared-memory limit has been raised.
    let sharedMemoryLimitRaised = Mutex<Set<String>>([])
    /// Per product shape, the fp32 workspace of the swapped kernels' split K ([16, rows, N], the
    /// most slices offered): one buffer a shape, reused by every launch (they run one after another
    /// on the stream, each writing its slices only after griddepcontrol.wait), so recorded steps do
    /// not each keep their own. Dropped when the shape's decision is not a workspace split.
    let skinnyWorkspaces = Mutex<[GEMVKey: DeviceBuffer]>([:])
    /// Skinny-GEMM launches so far by kernel name (checks confirm the forced kernel, TMA or not, ran).
    public let skinnyLaunches = Mutex<[String: Int]>([:])
    /// Launches of gemv_stream.cu's kernels (checks make sure a forced configuration ran).
    public let streamGEMVLaunches = Mutex<Int>(0)
    /// `KILN_SKINNY_TMA=0`: the skinny timing leaves out the TMA variants (for A/B runs; part of
    /// the decisions' record key, SkinnyDecisionRecord).
    public var skinnyTMAEnabled: Bool { Self.skinnyTMASetting }
    /// `KILN_SKINNY_TMA`'s setting, read once.
    static let skinnyTMASetting = ProcessInfo.processInfo.environment["KILN_SKINNY_TMA"] != "0"
    /// `KILN_SKINNY_SWAP=0`: the skinny timing leaves out skinny_gemm_swap.cu's kernels (for A/B
    /// runs; part of the decisions' record key, SkinnyDecisionRecord).
    public var skinnySwapEnabled: Bool { Self.skinnySwapSetting }
    /// `KILN_SKINNY_SWAP`'s setting, read once.
    static let skinnySwapSetting = ProcessInfo.processInfo.environment["KILN_SKINNY_SWAP"] != "0"
    /// `KILN_SKINNY_MULTICAST=1`: the skinny timing also tries the swapped kernels with x multicast
    /// (slower on the H200 in session 15, so left out by default; part of the record key). Read once.
    static let skinnyMulticastSetting = ProcessInfo.processInfo.environment["KILN_SKINNY_MULTICAST"] == "1"
    /// `KILN_SKINNY_GEMM=0`: products of 9-64 rows stay on cuBLASLt (for comparisons). Read once.
    public let skinnyGEMMEnabled = ProcessInfo.processInfo.environment["KILN_SKINNY_GEMM"] != "0"
    private let lock = NSLock()
    /// Profiling only: op classes that are not launched (`KILN_PROFILE_SKIP=norm,attention,...`;
    /// the classes are in `ProfileSkip`), so a timed run without them shows what they cost inside
    /// the real step (CUDA graphs, programmatic launch). The outputs are wrong while it is set.
    let profileSkips = ProfileSkip.fromEnvironment()
    /// Whether decode attention forms its own input (CUDABackend+FusedDecodeAttention.swift);
    /// `KILN_FUSED_DECODE_INPUT=0` turns it off, for comparisons. Read once: reading the
    /// environment builds a dictionary, too slow for a per-layer op (it took op-by-op decode from
    /// 431 to 277 tokens/s on an H100).
    public let fusesDecodeInputs = ProcessInfo.processInfo.environment["KILN_FUSED_DECODE_INPUT"] != "0"
    /// Tensor-core decode attention (attention_decode_mma_*) forced on or off; nil: the rule in
    /// `decodeAttention`. Starts from `KILN_DECODE_MMA=0/1`; checks set it.
    public var decodeAttentionMMA: Bool? = ProcessInfo.processInfo.environment["KILN_DECODE_MMA"].map { $0 != "0" }
    /// `KILN_DECODE_MMA_STAGES=1/2`: the tensor-core decode kernel's ring depth (for A/B timing;
    /// checks set it). nil: `tensorCoreDecodeStages`' rule.
    public var decodeMMAStages = ProcessInfo.processInfo.environment["KILN_DECODE_MMA_STAGES"].flatMap { Int($0) }
    /// Tensor-core decode attention launches so far (checks confirm the kernel ran).
    public let tensorCoreDecodeLaunches = Mutex<Int>(0)
    /// Whether greedy steps may be queued ahead of their ids (CUDABackend+QueuedSteps.swift);
    /// `KILN_QUEUED_STEPS=0` turns it off, for comparisons. Checks set it.
    public var queuedStepsEnabled = ProcessInfo.processInfo.environment["KILN_QUEUED_STEPS"] != "0"
    /// Ids the next step takes as its tokens (`feedTokens`).
    var tokenFeed: QueuedTokens?
    /// Page-locked slots for queued ids, made at first use; whether making them failed.
    var pinnedSlots: PinnedIDSlots?
    var pinnedSlotsFailed = false
    /// Steps whose tokens were copied from queued ids still on the device (checks confirm the
    /// queued path ran).
    public let deviceFedSteps = Mutex<Int>(0)

    /// A backend on `runtime`'s GPU computing in `precision`.
    public init(runtime: CUDARuntime, precision: DeviceElementType = .f32) throws {
        self.runtime = runtime
        self.stream = try CUDAStream(device: runtime.device)
        self.precision = precision
        matmul = try? MatmulEngine(runtime: runtime)
        usesGraphs = runtime.device.driver.graphFunctions != nil && ProcessInfo.processInfo.environment["KILN_CUDA_GRAPHS"] != "0"
        // Programmatic dependent launch: Hopper and later, a driver with cuLaunchKernelEx;
        // KILN_PDL=0 turns it off (for comparisons).
        stream.programmaticLaunches = runtime.device.computeCapability.major >= 9 && runtime.device.driver.extendedLaunch != nil
            && ProcessInfo.processInfo.environment["KILN_PDL"] != "0"
    }

    public var name: String {
        "cuda:\(runtime.device.ordinal) (\(runtime.device.name), matmul: \(matmul.map { "cuBLASLt \($0.blas.versionText)" } ?? "reference kernel"))"
    }

    var kernels: CUDAKernels { runtime.kernels }

    /// An uninitialised activation (every kernel writes its whole output, so no fill is queued).
    /// While a step is being recorded, its memory stays with the recording.
    public func makeTensor(rows: Int, columns: Int) throws -> DeviceTensor {
        let tensor = try DeviceTensor(rows: rows, columns: columns, elementType: activationType, allocator: runtime.allocator)
        retainForStep(tensor.buffer)
        return tensor
    }

    /// Scratch memory for one op of the current step (kept by a recording being made).
    func scratch(byteCount: Int) throws -> DeviceBuffer {
        let buffer = try runtime.allocator.allocate(byteCount: max(4, byteCount))
        retainForStep(buffer)
        return buffer
    }

    private func retainForStep(_ buffer: DeviceBuffer) {
        lock.withLock { recording?.retained.append(buffer) }
    }

    public func makeCache(_ shape: KVCacheShape) throws -> CUDAKVCache {
        try CUDAKVCache(shape: shape, elementType: activationType, allocator: runtime.allocator, stream: stream)
    }

    public func prepare(_ batch: ForwardBatch) throws {
        // The previous step's kernels must be done reading the buffers before they are rewritten.
        try stream.synchronize()
        if let eager = eagerStep, eager.fits(batch, blockSize: nil) {
            try eager.upload(batch, blockSize: nil, stream: stream)
        } else {
            eagerStep = try CUDAStepBuffers(batch: batch, allocator: runtime.allocator, stream: stream)
        }
        step = eagerStep
        if let eagerStep { try applyTokenFeed(to: eagerStep) }
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

    public func addRMSNorm(residual: DeviceTensor, _ x: DeviceTensor, weight: CUDAWeight, epsilon: Float, into out: DeviceTensor) throws {
        if profileSkips.contains(.norm) { return }
        try kernels.addRMSNorm(residual: residual, x, weight: weight.buffer, epsilon: epsilon, into: out, on: stream)
    }

    public func headRMSNorm(_ x: DeviceTensor, heads: Int, headDim: Int, weight: CUDAWeight, epsilon: Float) throws {
        try kernels.headRMSNorm(x, heads: heads, headDim: headDim, weight: weight.buffer, epsilon: epsilon, on: stream)
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
    func ropeTable(_ frequencies: [Float]) throws -> DeviceBuffer {
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
        arguments.address(step.slots)
        arguments.int32(width)
        arguments.int32(keys.columns)
        arguments.int32(values.columns)
        try stream.launch(try kernels.function("kv_cache_write_\(keys.elementType.suffix)"),
                          grid: (slots.count, 2, 1), block: (128, 1, 1), arguments: arguments)
    }

    public func softcap(_ x: DeviceTensor, cap: Float) throws {
        try kernels.softcap(x, cap: cap, on: stream)
    }

    public func gatherRows(_ x: DeviceTensor, rows: [Int], into out: DeviceTensor) throws {
        guard !rows.isEmpty else { return }
        precondition(out.rows == rows.count && out.columns == x.columns, "gatherRows: out must be [\(rows.count), \(x.columns)]")
        var arguments = KernelArguments()
        arguments.pointer(x.buffer)
        if let step, step.batch.logitRows == rows {
            arguments.address(step.logitRows) // uploaded with the step: no copy, no wait
        } else {
            let indices = try scratch(byteCount: rows.count * 4)
            try stream.upload(rows.map { Int32($0) }, to: indices)
            arguments.pointer(indices)
        }
        arguments.pointer(out.buffer)
        arguments.int32(x.columns)
        try stream.launch(try kernels.function("gather_rows_\(x.elementType.suffix)"), grid: (rows.count, 1, 1), block: (256, 1, 1), arguments: arguments)
    }

    public func argmaxRows(_ x: DeviceTensor, columns: Int) throws -> [Int] {
        precondition(columns == x.columns, "argmaxRows: \(columns) columns asked of a [\(x.rows), \(x.columns)] tensor")
        guard x.rows > 0 else { return [] }
        let ids = try runtime.allocator.allocate(byteCount: x.rows * 4)
        let values = try runtime.allocator.allocate(byteCount: x.rows * 4)
        try kernels.argmax(x, ids: ids, values: values, scratch: runtime.allocator, on: stream)
        return try stream.download(Int32.self, count: x.rows, from: ids).map { Int($0) }
    }

    /// Draws on the GPU with sampling.cu (same kept set as the CPU Sampler; the token for a given
    /// unit may differ from the CPU's, which walks the kept tokens in another order).
    public func sampleRows(_ x: DeviceTensor, columns: Int, parameters: [SamplingParameters], units: [Double]) throws -> [Int]? {
        precondition(columns == x.columns && parameters.count == x.rows && units.count == x.rows,
                     "sampleRows: \(parameters.count) parameter sets and \(units.count) units for \(x.rows) rows")
        guard x.rows > 0, columns <= CUDAKernels.maximumSamplingVocabulary else { return nil }
        // One buffer, one upload: uniforms fp64 [rows] first (8-byte aligned), then temperatures,
        // top-k, top-p, min-p (4 bytes each, [rows]), then the ids the kernel writes.
        let rows = x.rows
        var packed = [UInt32](repeating: 0, count: 7 * rows)
        for row in 0..<rows {
            let bits = units[row].bitPattern
            packed[2 * row] = UInt32(truncatingIfNeeded: bits)
            packed[2 * row + 1] = UInt32(truncatingIfNeeded: bits >> 32)
            packed[2 * rows + row] = parameters[row].temperature.bitPattern
            packed[3 * rows + row] = UInt32(bitPattern: Int32(clamping: parameters[row].topK))
            packed[4 * rows + row] = parameters[row].topP.bitPattern
            packed[5 * rows + row] = parameters[row].minP.bitPattern
        }
        let buffer = try scratch(byteCount: packed.count * 4)
        try stream.upload(packed, to: buffer)
        func at(_ word: Int) -> CUdeviceptr { buffer.address + CUdeviceptr(4 * word) }
        try kernels.sample(x, temperatures: at(2 * rows), topKs: at(3 * rows), topPs: at(4 * rows), minPs: at(5 * rows),
                           uniforms: at(0), ids: at(6 * rows), on: stream)
        var ids = [Int32](repeating: 0, count: rows)
        try withExtendedLifetime(buffer) {
            try ids.withUnsafeMutableBytes { try stream.copy(from: buffer, offset: 4 * 6 * rows, to: $0) }
        }
        return ids.map { Int($0) }
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
