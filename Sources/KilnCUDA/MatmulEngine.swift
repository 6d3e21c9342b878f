import Foundation
import KilnCore

/// The matrix products of the CUDA backend: `linear` (out = x · Wᵀ + bias) through cuBLASLt, with
/// one algorithm per (M bucket, N, K, precision, bias) chosen by timing the heuristic's
/// candidates once (`MatmulEngine+Autotune.swift`) and cached; `autotuneRecord` is what the engine
/// manifest stores and `restore` reads back.
///
/// Every call's descriptors (layouts, operation, algorithm) are built once per exact shape and
/// kept (`MatmulPlan`), so a steady-state call is a dictionary look-up and one `cublasLtMatmul`,
/// which is capturable in a CUDA graph. Autotuning synchronises the stream: tune (or make one call
/// of every shape) before capturing.
///
/// Thread-safe, but the workspace is shared: calls queued on different streams that may run at
/// the same time need different engines.
public final class MatmulEngine: @unchecked Sendable {
    /// The library and its handle.
    public let blas: CuBLASLt
    /// cuBLASLt's scratch memory (split-K partial sums and the like).
    public let workspace: DeviceBuffer
    /// Whether a shape with no choice yet is autotuned at its first call (else it gets the
    /// heuristic's first algorithm).
    public let autotune: Bool
    /// How many of the heuristic's algorithms autotuning times.
    public let maximumCandidates: Int
    let allocator: DeviceAllocator
    let lock = NSLock()
    /// Autotuned (or restored) choices by key.
    var choices: [MatmulTuningKey: MatmulChoice] = [:]
    /// Ready descriptors by exact shape.
    var plans: [PlanKey: MatmulPlan] = [:]
    let startEvent: CUDAEvent
    let endEvent: CUDAEvent

    /// Most plans kept; past it the cache is emptied (serving sees at most a few thousand shapes).
    static let maximumPlans = 4096

    /// An engine on `blas`'s device with a `workspaceBytes` workspace from `allocator` (32 MiB:
    /// what cuBLASLt's Hopper kernels ask for at most).
    public init(blas: CuBLASLt, allocator: DeviceAllocator, workspaceBytes: Int = 32 << 20, autotune: Bool = true,
                maximumCandidates: Int = 16) throws {
        precondition(maximumCandidates >= 1, "autotuning needs at least one candidate")
        self.blas = blas
        self.allocator = allocator
        self.autotune = autotune
        self.maximumCandidates = maximumCandidates
        workspace = try allocator.allocate(byteCount: workspaceBytes)
        startEvent = try CUDAEvent(device: blas.device)
        endEvent = try CUDAEvent(device: blas.device)
    }

    /// An engine on `runtime`'s GPU: opens cuBLASLt (throwing a `KilnError` that says where it
    /// was looked for when it is missing).
    public convenience init(runtime: CUDARuntime, locations: CUDALibraryLocations = CUDALibraryLocations(),
                            workspaceBytes: Int = 32 << 20, autotune: Bool = true) throws {
        try self.init(blas: CuBLASLt(device: runtime.device, locations: locations), allocator: runtime.allocator,
                      workspaceBytes: workspaceBytes, autotune: autotune)
    }

    /// out[M, N] = x[M, K] · weight[N, K]ᵀ (+ bias[N]), every matrix row-major, queued on `stream`.
    /// x and weight share one element type; out is fp32, or bf16 when they are bf16 (fp32 in, bf16
    /// out is not offered). bias, when given, holds N elements of out's type. out must not alias
    /// x or weight.
    public func linear(x: DeviceTensor, weight: DeviceTensor, bias: DeviceBuffer?, out: DeviceTensor, on stream: CUDAStream) throws {
        let problem = LinearProblem(rows: x.rows, outputs: weight.rows, inputs: x.columns)
        let precision = MatmulPrecision(input: x.elementType, output: out.elementType)
        try Self.validate(problem, precision: precision, x: x, weight: weight, bias: bias, out: out)
        guard problem.rows > 0, problem.outputs > 0 else { return }
        let operands = MatmulOperands(x: x.buffer.address, weight: weight.buffer.address, bias: bias?.address, out: out.buffer.address)
        lock.lock()
        defer { lock.unlock() }
        let plan = try plan(problem, precision: precision, operands: operands, stream: stream)
        try launch(plan, algorithm: plan.algorithm, operands: operands, stream: stream)
    }

    /// Throws a `KilnError` for shapes or types `linear` cannot take.
    static func validate(_ problem: LinearProblem, precision: MatmulPrecision, x: DeviceTensor, weight: DeviceTensor,
                         bias: DeviceBuffer?, out: DeviceTensor) throws {
        let shapes = "x [\(x.rows), \(x.columns)] \(x.elementType) · weight [\(weight.rows), \(weight.columns)] \(weight.elementType)ᵀ "
            + "-> out [\(out.rows), \(out.columns)] \(out.elementType)"
        guard weight.columns == x.columns, out.rows == x.rows, out.columns == weight.rows else {
            throw KilnError.invalidArgument("linear: shapes do not match: \(shapes)")
        }
        guard x.elementType == weight.elementType, precision.isSupported else {
            throw KilnError.invalidArgument("linear: unsupported types: \(shapes); x and weight must share a type, and fp32 inputs give fp32 outputs")
        }
        guard problem.inputs > 0 || problem.rows == 0 || problem.outputs == 0 else {
            throw KilnError.invalidArgument("linear: K = 0: \(shapes)")
        }
        if let bias, bias.byteCount < problem.outputs * out.elementType.byteSize {
            throw KilnError.invalidArgument("linear: a bias of \(bias.byteCount) bytes cannot hold \(problem.outputs) \(out.elementType) values: \(shapes)")
        }
        for limit in [problem.rows, problem.outputs, problem.inputs] where limit > Int(Int32.max) {
            throw KilnError.invalidArgument("linear: dimensions above 2^31 - 1: \(shapes)")
        }
    }

    /// The plan of an exact shape: built (and the shape autotuned when it has no choice yet)
    /// at its first call. Caller holds `lock`.
    func plan(_ problem: LinearProblem, precision: MatmulPrecision, operands: MatmulOperands, stream: CUDAStream) throws -> MatmulPlan {
        let alignment = LinearProblem.alignment([operands.x, operands.weight, operands.out, operands.bias ?? 0])
        let key = PlanKey(problem: problem, precision: precision, bias: operands.bias != nil, alignment: alignment)
        if let plan = plans[key] { return plan }
        let plan = try MatmulPlan(blas: blas, problem: problem, precision: precision, bias: operands.bias != nil)
        try plan.setBias(operands.bias)  // its address is an input of the heuristic (alignment)
        let tuningKey = MatmulTuningKey(problem, precision: precision, bias: operands.bias != nil)
        if let choice = choices[tuningKey], let workspaceBytes = try check(choice.algorithm, plan: plan) {
            plan.use(choice.algorithm, workspaceBytes: workspaceBytes, source: choice.tunedRows == problem.rows ? .autotuned : .autotunedAtOtherRows)
        } else if autotune && choices[tuningKey] == nil {
            let choice = try tune(plan, operands: operands, stream: stream)
            choices[tuningKey] = choice
            plan.use(choice.algorithm, workspaceBytes: choice.workspaceBytes, source: .autotuned)
        } else {
            guard let first = try heuristic(plan, alignment: alignment, count: 1).first else {
                throw noAlgorithm(problem, precision: precision, bias: operands.bias != nil)
            }
            plan.use(first.algorithm, workspaceBytes: first.workspaceBytes, source: .heuristic)
        }
        if plans.count >= Self.maximumPlans { plans.removeAll() }
        plans[key] = plan
        return plan
    }

    /// Queues one `cublasLtMatmul` of `plan` with `algorithm` (64 bytes). Caller holds `lock`.
    func launch(_ plan: MatmulPlan, algorithm: [UInt64], operands: MatmulOperands, stream: CUDAStream) throws {
        if let profiler = stream.profiler {
            try profiler.measure("cublasLt \(plan.label)", on: stream) { try launchNow(plan, algorithm: algorithm, operands: operands, stream: stream) }
        } else {
            try launchNow(plan, algorithm: algorithm, operands: operands, stream: stream)
        }
    }

    private func launchNow(_ plan: MatmulPlan, algorithm: [UInt64], operands: MatmulOperands, stream: CUDAStream) throws {
        precondition(algorithm.count == 8)
        try plan.setBias(operands.bias)
        var alpha: Float = 1, beta: Float = 0
        let out = UnsafeMutableRawPointer(bitPattern: UInt(operands.out))
        let status = algorithm.withUnsafeBytes { algorithmBytes in
            blas.functions.cublasLtMatmul(
                blas.handle, plan.descriptor, &alpha,
                UnsafeRawPointer(bitPattern: UInt(operands.weight)), plan.a,
                UnsafeRawPointer(bitPattern: UInt(operands.x)), plan.b,
                &beta, UnsafeRawPointer(out), plan.d, out, plan.d,
                algorithmBytes.baseAddress, UnsafeMutableRawPointer(bitPattern: UInt(workspace.address)), workspace.byteCount, stream.handle)
        }
        try blas.check(status, "cublasLtMatmul(\(plan.label))")
    }

    /// Whether `algorithm` (tuned for another M of the bucket, or restored) runs `plan`'s exact
    /// shape within the workspace: the workspace it needs there, or nil.
    func check(_ algorithm: [UInt64], plan: MatmulPlan) throws -> Int? {
        let result = UnsafeMutableRawPointer.allocate(byteCount: CuBLASLtConstant.heuristicResultBytes, alignment: 16)
        defer { result.deallocate() }
        result.initializeMemory(as: UInt8.self, repeating: 0, count: CuBLASLtConstant.heuristicResultBytes)
        let status = algorithm.withUnsafeBytes {
            blas.functions.cublasLtMatmulAlgoCheck(blas.handle, plan.descriptor, plan.a, plan.b, plan.d, plan.d, $0.baseAddress, result)
        }
        guard status == CuBLASLtConstant.statusSuccess else { return nil }
        let bytes = result.load(fromByteOffset: CuBLASLtConstant.heuristicWorkspaceOffset, as: Int.self)
        return bytes <= workspace.byteCount ? bytes : nil
    }

    /// The error for a problem cuBLASLt has no algorithm for.
    func noAlgorithm(_ problem: LinearProblem, precision: MatmulPrecision, bias: Bool) -> KilnError {
        KilnError.unsupported(
            path: blas.library.path,
            reason: "cuBLASLt \(blas.versionText) has no algorithm on \(blas.device.name) for out[\(problem.rows), \(problem.outputs)] = "
                + "x[\(problem.rows), \(problem.inputs)] · W[\(problem.outputs), \(problem.inputs)]ᵀ\(bias ? " + bias" : "") in \(precision) "
                + "with a \(DeviceAllocator.bytesText(workspace.byteCount)) workspace")
    }
}

/// Device addresses of one `linear`'s operands.
struct MatmulOperands {
    var x: CUdeviceptr
    var weight: CUdeviceptr
    var bias: CUdeviceptr?
    var out: CUdeviceptr
}

/// What a plan is built for: the exact shape, types, bias, and the operands' alignment.
struct PlanKey: Hashable {
    var problem: LinearProblem
    var precision: MatmulPrecision
    var bias: Bool
    var alignment: Int
}

/// cuBLASLt's descriptors for one exact shape: the operation (fp32 compute and scale, A
/// transposed, bias epilogue or none) and the A, B, D layouts of `LinearProblem`, with the
/// algorithm it runs. Destroys them when released.
final class MatmulPlan {
    /// Where the algorithm came from.
    enum Source: String { case autotuned, autotunedAtOtherRows = "autotuned at another M of the bucket", heuristic }

    let functions: CuBLASLtFunctions
    let problem: LinearProblem
    let precision: MatmulPrecision
    let bias: Bool
    let descriptor: CUhandle
    let a: CUhandle
    let b: CUhandle
    let d: CUhandle
    private(set) var algorithm: [UInt64] = Array(repeating: 0, count: 8)
    private(set) var workspaceBytes = 0
    private(set) var source = Source.heuristic
    private var biasAddress: CUdeviceptr = 0

    /// Creates the descriptors; on a failure part-way, destroys those already made.
    init(blas: CuBLASLt, problem: LinearProblem, precision: MatmulPrecision, bias: Bool) throws {
        let functions = blas.functions
        var descriptor: CUhandle?
        var layouts: [CUhandle] = []
        var complete = false
        defer {
            if !complete {
                for layout in layouts { _ = functions.cublasLtMatrixLayoutDestroy(layout) }
                if let descriptor { _ = functions.cublasLtMatmulDescDestroy(descriptor) }
            }
        }
        try blas.check(functions.cublasLtMatmulDescCreate(&descriptor, CuBLASLtConstant.compute32F, CuBLASLtConstant.dataTypeR32F),
                       "cublasLtMatmulDescCreate(COMPUTE_32F, R_32F)")
        func set<Value: BitwiseCopyable>(_ attribute: Int32, _ value: Value, _ name: String) throws {
            var value = value
            try blas.check(functions.cublasLtMatmulDescSetAttribute(descriptor, attribute, &value, MemoryLayout<Value>.size),
                           "cublasLtMatmulDescSetAttribute(\(name))")
        }
        try set(CuBLASLtConstant.descTransA, problem.transposeA ? CuBLASLtConstant.operationT : CuBLASLtConstant.operationN, "TRANSA")
        try set(CuBLASLtConstant.descTransB, problem.transposeB ? CuBLASLtConstant.operationT : CuBLASLtConstant.operationN, "TRANSB")
        try set(CuBLASLtConstant.descEpilogue, bias ? CuBLASLtConstant.epilogueBias : CuBLASLtConstant.epilogueDefault, "EPILOGUE")
        for (matrix, type) in [(problem.a, precision.input), (problem.b, precision.input), (problem.d, precision.output)] {
            var layout: CUhandle?
            try blas.check(functions.cublasLtMatrixLayoutCreate(&layout, MatmulPrecision.dataType(type), UInt64(matrix.rows),
                                                                 UInt64(matrix.columns), Int64(matrix.leadingDimension)),
                           "cublasLtMatrixLayoutCreate(\(type), \(matrix.rows) x \(matrix.columns), ld \(matrix.leadingDimension))")
            layouts.append(layout!)
        }
        self.functions = functions
        self.problem = problem
        self.precision = precision
        self.bias = bias
        self.descriptor = descriptor!
        (a, b, d) = (layouts[0], layouts[1], layouts[2])
        complete = true
    }

    deinit {
        _ = functions.cublasLtMatrixLayoutDestroy(d)
        _ = functions.cublasLtMatrixLayoutDestroy(b)
        _ = functions.cublasLtMatrixLayoutDestroy(a)
        _ = functions.cublasLtMatmulDescDestroy(descriptor)
    }

    /// "bf16>f32 [17, 577] · [2560, 577]ᵀ + bias".
    var label: String {
        "\(precision) [\(problem.rows), \(problem.inputs)] · [\(problem.outputs), \(problem.inputs)]ᵀ" + (bias ? " + bias" : "")
    }

    /// Sets the algorithm later calls run.
    func use(_ algorithm: [UInt64], workspaceBytes: Int, source: Source) {
        precondition(algorithm.count == 8)
        self.algorithm = algorithm
        self.workspaceBytes = workspaceBytes
        self.source = source
    }

    /// Points the bias epilogue at `address` (only when it changed).
    func setBias(_ address: CUdeviceptr?) throws {
        guard bias, let address, address != biasAddress else { return }
        var pointer = UInt(address)
        let status = functions.cublasLtMatmulDescSetAttribute(descriptor, CuBLASLtConstant.descBiasPointer, &pointer, MemoryLayout<UInt>.size)
        guard status == CuBLASLtConstant.statusSuccess else {
            throw KilnError.invalidArgument("cuBLASLt: cublasLtMatmulDescSetAttribute(BIAS_POINTER) failed with status \(status)")
        }
        biasAddress = address
    }
}
