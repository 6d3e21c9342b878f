import Foundation
import KilnCore

/// One algorithm of cuBLASLt's heuristic.
struct HeuristicCandidate {
    /// The `cublasLtMatmulAlgo_t`.
    var algorithm: [UInt64]
    /// Workspace bytes it needs.
    var workspaceBytes: Int
    /// cuBLASLt's estimate of how many waves of the GPU it fills.
    var waves: Float
}

/// Autotuning: for each (M bucket, N, K, precision, bias), the heuristic's first
/// `maximumCandidates` algorithms are each run once to warm up, then timed between two events
/// over enough repetitions to last about a millisecond (3 to 50), and the fastest is kept.
///
/// Timings run on the call's own x and output (the output is rewritten with the same values each
/// time), and on a weight that rotates with constant-filled stand-ins of its size filling three
/// times the L2 cache (`weightRotation`; the values do not change a product's timing): in a decode step every layer's weights come from memory (the layers in
/// between have evicted them) while x was just written by the previous kernel. Timed on one
/// weight, a 10.5 MB QKV matrix stayed in the 50 MB L2 across repetitions, which favours
/// algorithms of few, L2-fed blocks that are slow when the weights come from DRAM
/// (`KILN_AUTOTUNE_WARM_L2=1` times that way again, for A/B runs).
extension MatmulEngine {
    /// Whether autotuning times on one weight kept warm in L2 (the earlier behaviour).
    static let timesWithWarmL2 = ProcessInfo.processInfo.environment["KILN_AUTOTUNE_WARM_L2"] == "1"

    /// Weight addresses for successive timed runs: `weight` itself, then stand-ins of its size in
    /// `scratch` (filled with a constant) while they fit, at most `maximumStandIns` (a timing
    /// makes at most ~52 runs), so that consecutive runs of one rotation read up to ~3 x L2
    /// bytes before coming back to a weight. Weights of 3 x L2 or more need none.
    static func weightRotation(weight: CUdeviceptr, weightBytes: Int, scratch: CUdeviceptr, scratchBytes: Int) -> [CUdeviceptr] {
        guard scratch != 0, weightBytes > 0 else { return [weight] }
        // 256-byte aligned stand-ins (cuBLASLt's alignment preference was taken from `weight`).
        let stride = (weightBytes + 255) / 256 * 256
        let fitting = scratchBytes >= weightBytes ? 1 + (scratchBytes - weightBytes) / stride : 0
        return [weight] + (0..<min(fitting, maximumStandIns)).map { scratch + CUdeviceptr($0 * stride) }
    }

    /// Most stand-ins a rotation takes.
    static let maximumStandIns = 64

    /// The scratch `weightRotation` places its stand-ins in: 3 x the L2 cache, constant-filled; nil when the
    /// weight alone is that large, when warm timing is asked for, or when memory is short.
    func rotationScratch(weightBytes: Int, stream: CUDAStream) -> DeviceBuffer? {
        let bytes = 3 * blas.device.l2CacheBytes
        guard !Self.timesWithWarmL2, weightBytes < bytes, let scratch = try? allocator.allocate(byteCount: bytes) else { return nil }
        guard (try? stream.fill(scratch, byte: 0x3C)) != nil else { return nil }
        return scratch
    }

    /// Times `problem` now on scratch operands (filled with a small constant) and keeps the
    /// fastest algorithm for its key, replacing any earlier choice. For the engine builder and
    /// benchmarks; `linear` tunes a new key by itself when `autotune` is on.
    @discardableResult
    public func tune(_ problem: LinearProblem, precision: MatmulPrecision, bias: Bool, on stream: CUDAStream) throws -> MatmulChoice {
        guard precision.isSupported, problem.rows > 0, problem.outputs > 0, problem.inputs > 0 else {
            throw KilnError.invalidArgument("tune: nothing to tune for \(problem) in \(precision)")
        }
        let x = try allocator.allocate(byteCount: problem.rows * problem.inputs * precision.input.byteSize)
        let weight = try allocator.allocate(byteCount: problem.outputs * problem.inputs * precision.input.byteSize)
        let out = try allocator.allocate(byteCount: problem.rows * problem.outputs * precision.output.byteSize)
        let biasBuffer = bias ? try allocator.allocate(byteCount: problem.outputs * precision.output.byteSize) : nil
        // 0x3C in every byte: 0.0115 in both fp32 and bf16, finite and nonzero.
        for buffer in [x, weight, out] + (biasBuffer.map { [$0] } ?? []) { try stream.fill(buffer, byte: 0x3C) }
        let operands = MatmulOperands(x: x.address, weight: weight.address, bias: biasBuffer?.address, out: out.address)
        lock.lock()
        defer { lock.unlock() }
        let plan = try MatmulPlan(blas: blas, problem: problem, precision: precision, bias: bias)
        try plan.setBias(operands.bias)
        let choice = try tune(plan, operands: operands, stream: stream)
        choices[MatmulTuningKey(problem, precision: precision, bias: bias)] = choice
        // Plans of this key picked their algorithm from the old choice: rebuild them.
        plans = plans.filter { MatmulTuningKey($0.key.problem, precision: $0.key.precision, bias: $0.key.bias) != MatmulTuningKey(problem, precision: precision, bias: bias) }
        try stream.synchronize()  // the scratch buffers go back to the pool
        return choice
    }

    /// The choice for `key`, if it was tuned or restored.
    public func choice(for key: MatmulTuningKey) -> MatmulChoice? {
        lock.withLock { choices[key] }
    }

    /// Every choice as the engine manifest's `autotune` map: `MatmulTuningKey.description` ->
    /// `MatmulChoice.recordValue`, plus "cublasLt" (the library version the algorithms belong to)
    /// and "device" (the GPU they were timed on).
    public func autotuneRecord() -> [String: String] {
        lock.withLock {
            var record: [String: String] = ["cublasLt": String(blas.version), "device": blas.device.name]
            for (key, choice) in choices { record[key.description] = choice.recordValue }
            return record
        }
    }

    /// Takes the choices of an `autotuneRecord` made with this cuBLASLt version on a GPU of the
    /// same name (an algorithm is only valid for the library that described it); returns how
    /// many were taken. Each is still checked against every exact shape before it runs.
    @discardableResult
    public func restore(_ record: [String: String]) -> Int {
        guard record["cublasLt"] == String(blas.version), record["device"] == blas.device.name else { return 0 }
        var restored = 0
        lock.withLock {
            for (text, value) in record {
                guard let key = MatmulTuningKey(text), let choice = MatmulChoice(recordValue: value) else { continue }
                choices[key] = choice
                restored += 1
            }
            plans.removeAll()
        }
        return restored
    }

    /// Times the heuristic's candidates for `plan` on `operands` and returns the fastest. Caller
    /// holds `lock`. Synchronises `stream`.
    func tune(_ plan: MatmulPlan, operands: MatmulOperands, stream: CUDAStream) throws -> MatmulChoice {
        let alignment = LinearProblem.alignment([operands.x, operands.weight, operands.out, operands.bias ?? 0])
        let candidates = try heuristic(plan, alignment: alignment, count: maximumCandidates)
        guard !candidates.isEmpty else { throw noAlgorithm(plan.problem, precision: plan.precision, bias: plan.bias) }
        var timings: [(index: Int, microseconds: Double)] = []
        var firstError: (any Error)?
        let weightBytes = plan.problem.outputs * plan.problem.inputs * plan.precision.input.byteSize
        let scratch = rotationScratch(weightBytes: weightBytes, stream: stream)
        let weights = Self.weightRotation(weight: operands.weight, weightBytes: weightBytes, scratch: scratch?.address ?? 0,
                                          scratchBytes: scratch?.byteCount ?? 0)
        // The scratch goes back to the pool on return, also when timing throws: runs still queued
        // on it finish first.
        defer { if scratch != nil { try? stream.synchronize() } }
        var turn = 0
        // Each run on the next weight of the rotation.
        func run(_ algorithm: [UInt64]) throws {
            var rotated = operands
            rotated.weight = weights[turn % weights.count]
            turn += 1
            try launch(plan, algorithm: algorithm, operands: rotated, stream: stream)
        }
        for (index, candidate) in candidates.enumerated() {
            do {
                try run(candidate.algorithm)  // warm-up
                let once = try time(repetitions: 1, stream: stream) { try run(candidate.algorithm) }
                let repetitions = max(3, min(50, Int(1000 / max(once, 1))))
                let mean = try time(repetitions: repetitions, stream: stream) { try run(candidate.algorithm) }
                timings.append((index, mean))
            } catch {
                // A candidate cuBLASLt refuses at launch is skipped; a fault of the GPU shows
                // at the next synchronisation and is thrown there.
                if firstError == nil { firstError = error }
            }
        }
        guard let best = timings.min(by: { $0.microseconds < $1.microseconds }) else {
            throw firstError ?? noAlgorithm(plan.problem, precision: plan.precision, bias: plan.bias)
        }
        if Self.enumeratesConfigurations, plan.problem.rows <= 64 {
            let names = (try? stream.device.driver.graphInspection?.kernelNames(on: stream, { try run(candidates[best.index].algorithm) })) ?? []
            reportWaitingConfigurations(plan, heuristicFastest: (best.microseconds, names), stream: stream, run: run,
                                        time: { body in try self.time(repetitions: 20, stream: stream, body) })
        }
        // Leave the output as the chosen algorithm computes it (on the call's own weight).
        let winner = candidates[best.index]
        try launch(plan, algorithm: winner.algorithm, operands: operands, stream: stream)
        let first = timings.first { $0.index == 0 }?.microseconds ?? .nan
        return MatmulChoice(algorithm: winner.algorithm, algorithmID: configuration(winner.algorithm, CuBLASLtConstant.configID),
                            tile: configuration(winner.algorithm, CuBLASLtConstant.configTile),
                            stages: configuration(winner.algorithm, CuBLASLtConstant.configStages),
                            splitK: configuration(winner.algorithm, CuBLASLtConstant.configSplitK),
                            workspaceBytes: winner.workspaceBytes, microseconds: best.microseconds, heuristicMicroseconds: first,
                            rank: best.index, candidates: timings.count, tunedRows: plan.problem.rows)
    }

    /// The mean microseconds of `repetitions` runs of `body`, between two events on `stream`.
    func time(repetitions: Int, stream: CUDAStream, _ body: () throws -> Void) throws -> Double {
        try startEvent.record(on: stream)
        for _ in 0..<repetitions { try body() }
        try endEvent.record(on: stream)
        try endEvent.synchronize()
        return Double(try endEvent.milliseconds(since: startEvent)) * 1000 / Double(repetitions)
    }

    /// Up to `count` of cuBLASLt's algorithms for `plan`, best estimate first, that fit the
    /// workspace and assume no more than `alignment` bytes of the operands' addresses.
    func heuristic(_ plan: MatmulPlan, alignment: Int, count: Int) throws -> [HeuristicCandidate] {
        let functions = blas.functions
        var preference: CUhandle?
        try blas.check(functions.cublasLtMatmulPreferenceCreate(&preference), "cublasLtMatmulPreferenceCreate")
        defer { _ = functions.cublasLtMatmulPreferenceDestroy(preference) }
        var workspaceBytes = UInt64(workspace.byteCount)
        try blas.check(functions.cublasLtMatmulPreferenceSetAttribute(preference, CuBLASLtConstant.preferenceMaxWorkspaceBytes, &workspaceBytes, 8),
                       "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)")
        for attribute in [CuBLASLtConstant.preferenceMinAlignmentA, CuBLASLtConstant.preferenceMinAlignmentB,
                          CuBLASLtConstant.preferenceMinAlignmentC, CuBLASLtConstant.preferenceMinAlignmentD] {
            var bytes = UInt32(alignment)
            try blas.check(functions.cublasLtMatmulPreferenceSetAttribute(preference, attribute, &bytes, 4),
                           "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT \(alignment))")
        }
        let stride = CuBLASLtConstant.heuristicResultBytes
        let results = UnsafeMutableRawPointer.allocate(byteCount: stride * count, alignment: 16)
        defer { results.deallocate() }
        results.initializeMemory(as: UInt8.self, repeating: 0, count: stride * count)
        var returned: Int32 = 0
        let status = functions.cublasLtMatmulAlgoGetHeuristic(blas.handle, plan.descriptor, plan.a, plan.b, plan.d, plan.d, preference,
                                                               Int32(count), results, &returned)
        if status == CuBLASLtConstant.statusNotSupported { return [] }
        try blas.check(status, "cublasLtMatmulAlgoGetHeuristic(\(plan.label))")
        var candidates: [HeuristicCandidate] = []
        for index in 0..<min(Int(returned), count) {
            let result = results + index * stride
            guard result.load(fromByteOffset: CuBLASLtConstant.heuristicStateOffset, as: Int32.self) == CuBLASLtConstant.statusSuccess else { continue }
            let workspaceNeeded = result.load(fromByteOffset: CuBLASLtConstant.heuristicWorkspaceOffset, as: Int.self)
            guard workspaceNeeded <= workspace.byteCount else { continue }
            let words = (0..<8).map { result.load(fromByteOffset: $0 * 8, as: UInt64.self) }
            candidates.append(HeuristicCandidate(algorithm: words, workspaceBytes: workspaceNeeded,
                                                 waves: result.load(fromByteOffset: CuBLASLtConstant.heuristicWavesOffset, as: Float.self)))
        }
        return candidates
    }

    /// A 4-byte `cublasLtMatmulAlgoConfigAttributes_t` of an algorithm (-1 if cuBLASLt will not say).
    func configuration(_ algorithm: [UInt64], _ attribute: Int32) -> Int {
        var value: UInt32 = 0
        var written = 0
        let status = algorithm.withUnsafeBytes {
            blas.functions.cublasLtMatmulAlgoConfigGetAttribute($0.baseAddress, attribute, &value, 4, &written)
        }
        guard status == CuBLASLtConstant.statusSuccess, written == 4 else { return -1 }
        return Int(Int32(bitPattern: value))
    }
}
