import Foundation
import KilnBackend
import KilnCore
import KilnCPU
import KilnCUDA
import KilnEngine
import KilnFormats

/// The checks of `kiln check gpu`: each CUDA kernel against its CPU twin (`CPUBackend`'s op, or
/// the greedy `Sampler` for argmax) on fresh random inputs, never zeros, with every output
/// poisoned (NaN) before the launch. The measure is ‖gpu − cpu‖ / ‖cpu‖; bf16 paths feed the CPU
/// the same bf16-rounded inputs and compare against its fp32 result.
final class GPUParityChecks {
    let runtime: CUDARuntime
    let stream: CUDAStream
    let cpu = CPUBackend()
    let quick: Bool
    /// When set, only the kernel checks whose kernel name contains it run (`check gpu --only`);
    /// the matrix-product and sampling suites are skipped.
    let only: String?
    private(set) var passed = 0
    private(set) var failed = 0
    private var random: SplitMix64
    private let start: CUDAEvent
    private let end: CUDAEvent

    /// Relative-error bounds by stored element type.
    static func bound(_ type: DeviceElementType) -> Double { type == .f32 ? 1e-5 : 1e-2 }

    init(runtime: CUDARuntime, seed: UInt64, quick: Bool, only: String? = nil) throws {
        self.runtime = runtime
        self.quick = quick
        self.only = only
        random = SplitMix64(seed: seed)
        stream = try CUDAStream(device: runtime.device)
        start = try CUDAEvent(device: runtime.device)
        end = try CUDAEvent(device: runtime.device)
    }

    var kernels: CUDAKernels { runtime.kernels }
    var types: [DeviceElementType] { DeviceElementType.allCases }

    func runAll() throws {
        print("result kernel           type  shape                                       ‖gpu−cpu‖/‖cpu‖  bound    gpu µs")
        checkEmbedding()
        checkRMSNorm()
        checkAddRMSNorm()
        checkAdd()
        checkHeadRMSNorm()
        checkRoPE()
        checkGatedActivation()
        checkSoftcap()
        checkArgmax()
        guard only == nil else { return }
        try GPUMatmulChecks(runtime: runtime, stream: stream, seed: random.next(), quick: quick).runAll { $0 ? (passed += 1) : (failed += 1) }
        try GPUSamplingChecks(runtime: runtime, stream: stream, seed: random.next(), quick: quick).runAll { $0 ? (passed += 1) : (failed += 1) }
    }

    // MARK: - Kernels

    func checkEmbedding() {
        let hiddens = quick ? [7, 577, 2048] : [1, 7, 64, 577, 2048, 3072]
        for (index, hidden) in hiddens.enumerated() {
            for tableType in types {
                for outType in types {
                    let vocabulary = index % 2 == 0 ? 4099 : 11, tokens = index % 2 == 0 ? 5 : 9
                    let scale: Float = index % 2 == 0 ? Float(hidden).squareRoot() : 1
                    run("embed", outType, "table \(tableType) [\(vocabulary), \(hidden)] tokens \(tokens) scale \(String(format: "%.3g", scale))") {
                        let table = rounded(values(vocabulary * hidden), tableType)
                        // First and last ids always, the rest at random (repeats allowed).
                        var ids = [0, vocabulary - 1]
                        while ids.count < tokens { ids.append(Int(random.next() % UInt64(vocabulary))) }
                        let gpuTable = try upload(table, tableType, vocabulary, hidden)
                        let gpuIDs = try runtime.allocator.allocate(byteCount: tokens * 4)
                        try stream.upload(ids.map { Int32($0) }, to: gpuIDs)
                        let out = try poisoned(rows: tokens, columns: hidden, outType)
                        let micros = try timed {
                            try kernels.embed(tokens: gpuIDs, table: gpuTable.buffer, tableType: tableType, vocabulary: vocabulary,
                                              scale: scale, into: out, on: stream)
                        }
                        let tableBytes = hostBytes(table, tableType)
                        let source = try WeightSource(name: "table", shape: [vocabulary, hidden], storage: .dense(tableType == .f32 ? .f32 : .bf16),
                                                      bytes: UnsafeRawBufferPointer(tableBytes.buffer), owner: tableBytes)
                        let expected = cpu.makeTensor(rows: tokens, columns: hidden)
                        cpu.embed(tokens: ids, table: try cpu.loadWeight(source), scale: scale, into: expected)
                        return (try download(out), cpu.read(expected), micros)
                    }
                }
            }
        }
    }

    func checkRMSNorm() {
        let hiddens = quick ? [7, 577, 3072] : [1, 7, 64, 577, 2048, 3072, 8192]
        for (index, hidden) in hiddens.enumerated() {
            for type in types {
                // Also in place (out = x), as the decoder normalises a projection or the final hidden rows.
                for inPlace in [false, true] {
                    let rows = [1, 3, 17][index % 3], magnitude: Float = index % 2 == 0 ? 1 : 40, epsilon: Float = index % 2 == 0 ? 1e-6 : 1e-5
                    run("rms_norm", type, "[\(rows), \(hidden)] " + (inPlace ? "in place" : "eps \(epsilon) |x|~\(Int(magnitude))")) {
                        let x = rounded(values(rows * hidden, scale: magnitude), type), gamma = values(hidden, scale: 0.5, offset: 1)
                        let gpuX = try upload(x, type, rows, hidden), weight = try uploadFloats(gamma)
                        let out = inPlace ? gpuX : try poisoned(rows: rows, columns: hidden, type)
                        let micros = try timed { try kernels.rmsNorm(gpuX, weight: weight, epsilon: epsilon, into: out, on: stream) }
                        let expected = cpu.makeTensor(rows: rows, columns: hidden)
                        cpu.rmsNorm(cpu.tensor(x, rows: rows, columns: hidden), weight: try cpu.loadVector(gamma, name: "norm"), epsilon: epsilon, into: expected)
                        return (try download(out), cpu.read(expected), micros)
                    }
                }
            }
        }
    }

    func checkAddRMSNorm() {
        // 9000: past the register-held rows (8 per thread at 1024 threads), the loop path.
        let hiddens = quick ? [7, 577, 3072] : [1, 7, 64, 577, 2048, 3072, 8192, 9000]
        for (index, hidden) in hiddens.enumerated() {
            for type in types {
                let rows = [1, 3, 17][index % 3], epsilon: Float = 1e-6
                run("add_rms_norm", type, "[\(rows), \(hidden)] residual and out") {
                    let residual = rounded(values(rows * hidden, scale: 4), type), x = rounded(values(rows * hidden), type)
                    let gamma = values(hidden, scale: 0.5, offset: 1)
                    let gpuResidual = try upload(residual, type, rows, hidden), gpuX = try upload(x, type, rows, hidden), weight = try uploadFloats(gamma)
                    let out = try poisoned(rows: rows, columns: hidden, type)
                    let micros = try timed {
                        try kernels.addRMSNorm(residual: gpuResidual, gpuX, weight: weight, epsilon: epsilon, into: out, on: stream)
                    }
                    let expectedResidual = cpu.tensor(residual, rows: rows, columns: hidden), expected = cpu.makeTensor(rows: rows, columns: hidden)
                    cpu.add(cpu.tensor(x, rows: rows, columns: hidden), into: expectedResidual)
                    cpu.rmsNorm(expectedResidual, weight: try cpu.loadVector(gamma, name: "norm"), epsilon: epsilon, into: expected)
                    // Both outputs, as one vector.
                    return (try download(out) + download(gpuResidual), cpu.read(expected) + cpu.read(expectedResidual), micros)
                }
            }
        }
    }

    func checkAdd() {
        let shapes = quick ? [(3, 577)] : [(1, 1), (3, 577), (17, 3072)]
        for (rows, columns) in shapes {
            for type in types {
                run("add", type, "[\(rows), \(columns)]") {
                    let accumulator = rounded(values(rows * columns), type), x = rounded(values(rows * columns), type)
                    let gpuAccumulator = try upload(accumulator, type, rows, columns), gpuX = try upload(x, type, rows, columns)
                    let micros = try timed { try kernels.add(gpuX, into: gpuAccumulator, on: stream) }
                    let expected = cpu.tensor(accumulator, rows: rows, columns: columns)
                    cpu.add(cpu.tensor(x, rows: rows, columns: columns), into: expected)
                    return (try download(gpuAccumulator), cpu.read(expected), micros)
                }
            }
        }
    }

    func checkHeadRMSNorm() {
        // (rows, heads, headDim, extra columns after the heads: a fused QKV row's K and V).
        let shapes = quick ? [(3, 8, 128, 0), (5, 4, 256, 512)]
            : [(1, 1, 64, 0), (3, 8, 128, 0), (5, 4, 256, 512), (2, 3, 7, 0), (4, 16, 80, 160), (1, 2, 1, 0), (33, 8, 256, 0)]
        for (rows, heads, headDim, extra) in shapes {
            for type in types {
                let columns = heads * headDim + extra
                run("head_rms_norm", type, "[\(rows), \(columns)] \(heads) heads x \(headDim)") {
                    let x = rounded(values(rows * columns, scale: 3), type), gamma = values(headDim, scale: 0.5, offset: 1)
                    let gpuX = try upload(x, type, rows, columns), weight = try uploadFloats(gamma)
                    let micros = try timed { try kernels.headRMSNorm(gpuX, heads: heads, headDim: headDim, weight: weight, epsilon: 1e-6, on: stream) }
                    // The CPU op works on [rows, heads * headDim]: normalise that part, keep the rest.
                    var expected = x
                    let heads2D = cpu.makeTensor(rows: rows, columns: heads * headDim)
                    for row in 0..<rows { for column in 0..<(heads * headDim) { heads2D.data[row * heads * headDim + column] = x[row * columns + column] } }
                    cpu.headRMSNorm(heads2D, heads: heads, headDim: headDim, weight: try cpu.loadVector(gamma, name: "q_norm"), epsilon: 1e-6)
                    withExtendedLifetime(heads2D) {
                        for row in 0..<rows { for column in 0..<(heads * headDim) { expected[row * columns + column] = heads2D.data[row * heads * headDim + column] } }
                    }
                    return (try download(gpuX), expected, micros)
                }
            }
        }
    }

    func checkRoPE() {
        // (rows, heads, headDim, rotary fraction, base).
        let shapes: [(Int, Int, Int, Double, Double)] = quick ? [(7, 8, 128, 1, 10_000), (3, 2, 256, 0.25, 1_000_000)]
            : [(1, 1, 64, 1, 10_000), (7, 8, 128, 1, 500_000), (5, 4, 256, 1, 10_000), (3, 2, 256, 0.25, 1_000_000),
               (4, 16, 80, 0.5, 10_000), (2, 3, 2, 1, 10_000), (33, 32, 128, 1, 1_000_000)]
        for (rows, heads, headDim, fraction, base) in shapes {
            for style in [RopeStyle.halves, .interleaved] {
                for type in types {
                    let pairs = max(1, Int(Double(headDim) * fraction) / 2), columns = heads * headDim
                    run(style == .halves ? "rope_halves" : "rope_interleaved", type,
                        "[\(rows), \(columns)] \(heads)x\(headDim) rotary \(2 * pairs) base \(Int(base))") {
                        let x = rounded(values(rows * columns), type)
                        let inverse = (0..<pairs).map { Float(pow(base, -2 * Double($0) / Double(2 * pairs))) }
                        let positions = (0..<rows).map { _ in Int(random.next() % 32768) }
                        let gpuX = try upload(x, type, rows, columns), gpuInverse = try uploadFloats(inverse)
                        let gpuPositions = try runtime.allocator.allocate(byteCount: rows * 4)
                        try stream.upload(positions.map { Int32($0) }, to: gpuPositions)
                        let micros = try timed {
                            try kernels.rope(gpuX, heads: heads, headDim: headDim, positions: gpuPositions, inverseFrequencies: gpuInverse,
                                             pairs: pairs, style: style, on: stream)
                        }
                        let expected = cpu.tensor(x, rows: rows, columns: columns)
                        cpu.rope(expected, heads: heads, headDim: headDim, positions: positions,
                                 parameters: RopeParameters(inverseFrequencies: inverse, style: style))
                        return (try download(gpuX), cpu.read(expected), micros)
                    }
                }
            }
        }
    }

    func checkGatedActivation() {
        let shapes = quick ? [(3, 577), (2, 16384)] : [(1, 1), (1, 7), (3, 577), (5, 3072), (2, 16384), (1, 49153)]
        for (rows, columns) in shapes {
            for activation in [GateActivation.silu, .geluTanh] {
                for type in types {
                    run(activation == .silu ? "gated_silu" : "gated_gelu_tanh", type, "[\(rows), \(columns)]") {
                        let gate = rounded(values(rows * columns, scale: 3), type), up = rounded(values(rows * columns), type)
                        let gpuGate = try upload(gate, type, rows, columns), gpuUp = try upload(up, type, rows, columns)
                        let out = try poisoned(rows: rows, columns: columns, type)
                        let micros = try timed { try kernels.gatedActivation(gate: gpuGate, up: gpuUp, activation: activation, into: out, on: stream) }
                        let expected = cpu.makeTensor(rows: rows, columns: columns)
                        cpu.gatedActivation(gate: cpu.tensor(gate, rows: rows, columns: columns), up: cpu.tensor(up, rows: rows, columns: columns),
                                            activation: activation, into: expected)
                        return (try download(out), cpu.read(expected), micros)
                    }
                }
            }
        }
    }

    func checkSoftcap() {
        let shapes = quick ? [(3, 577)] : [(1, 7), (3, 577), (2, 262_144)]
        for (rows, columns) in shapes {
            for cap: Float in [30, 50] {
                for type in types {
                    run("softcap", type, "[\(rows), \(columns)] cap \(Int(cap)) |x|~60") {
                        let x = rounded(values(rows * columns, scale: 60), type)
                        let gpuX = try upload(x, type, rows, columns)
                        let micros = try timed { try kernels.softcap(gpuX, cap: cap, on: stream) }
                        let expected = cpu.tensor(x, rows: rows, columns: columns)
                        cpu.softcap(expected, cap: cap)
                        return (try download(gpuX), cpu.read(expected), micros)
                    }
                }
            }
        }
    }

    /// Ids must match exactly; "ties" plants the maximum at several ids (the lowest must win),
    /// "nan -inf" scatters NaN and -inf and adds a row of only -inf (id 0).
    func checkArgmax() {
        let shapes = quick ? [(2, 577), (2, 256_000)] : [(1, 1), (1, 7), (2, 577), (3, 32000), (2, 256_000), (1, 262_145)]
        let cases = shapes.map { ($0.0, $0.1, "") } + [(4, 32000, "ties"), (3, 151_936, "ties"), (3, 4099, "nan -inf"), (2, 65536, "nan -inf")]
        for (rows, vocabulary, special) in cases {
            for type in types {
                run("argmax", type, "[\(rows), \(vocabulary)] \(special)") {
                    var logits = rounded(values(rows * vocabulary, scale: 4), type)
                    if special == "ties" {
                        for row in 0..<rows {
                            let top = logits[(row * vocabulary)..<((row + 1) * vocabulary)].max()! + 1
                            for _ in 0..<4 { logits[row * vocabulary + Int(random.next() % UInt64(vocabulary))] = top }
                        }
                    } else if special == "nan -inf" {
                        for index in logits.indices where random.next() % 7 == 0 { logits[index] = random.next() % 2 == 0 ? .nan : -.infinity }
                        for index in 0..<vocabulary { logits[(rows - 1) * vocabulary + index] = -.infinity }
                    }
                    logits = rounded(logits, type)
                    let gpuLogits = try upload(logits, type, rows, vocabulary)
                    let ids = try runtime.allocator.allocate(byteCount: rows * 4), maxima = try runtime.allocator.allocate(byteCount: rows * 4)
                    try stream.fill(ids, byte: 0xFF)
                    // Rows of 16,384 or more take the sliced path (argmax_partial + argmax_merge_parts).
                    let micros = try timed { try kernels.argmax(gpuLogits, ids: ids, values: maxima, scratch: runtime.allocator, on: stream) }
                    let gpuIDs = try stream.download(Int32.self, count: rows, from: ids)
                    let gpuValues = try stream.download(Float.self, count: rows, from: maxima)
                    var mismatches = 0
                    for row in 0..<rows {
                        var sampler = Sampler(parameters: SamplingParameters(temperature: 0))
                        let expected = sampler.sample(logits: Array(logits[(row * vocabulary)..<((row + 1) * vocabulary)])).id
                        let value = logits[row * vocabulary + expected]
                        let valueMatches = gpuValues[row] == value || (!(value > -.infinity) && gpuValues[row] == -.infinity)
                        if Int(gpuIDs[row]) != expected || !valueMatches { mismatches += 1 }
                    }
                    // Ids compare exactly: report mismatched rows as the error.
                    return ([Float(mismatches)], [0], micros)
                }
            }
        }
    }

    // MARK: - Harness

    /// Runs one check and prints its line; a thrown error is a failure, printed, not fatal.
    private func run(_ kernel: String, _ type: DeviceElementType, _ shape: String,
                     _ body: () throws -> (gpu: [Float], cpu: [Float], micros: Double)) {
        if let only, !kernel.contains(only) { return }
        let bound = Self.bound(type)
        let label = kernel.padding(toLength: 17, withPad: " ", startingAt: 0) + " " + type.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)
            + " " + shape.padding(toLength: 43, withPad: " ", startingAt: 0)
        do {
            let (gpu, expected, micros) = try body()
            let error: Double, ok: Bool
            if kernel == "argmax" {
                error = Double(gpu[0])
                ok = error == 0
            } else {
                error = Self.relativeError(gpu, expected)
                ok = error < bound
            }
            ok ? (passed += 1) : (failed += 1)
            let measure = kernel == "argmax" ? (error == 0 ? "ids equal" : "\(Int(error)) rows differ").padding(toLength: 16, withPad: " ", startingAt: 0)
                : String(format: "%-16.2e", error)
            let boundText = kernel == "argmax" ? "exact   " : String(format: "%-8.0e", bound)
            print("\(ok ? "PASS" : "FAIL")   \(label) \(measure) \(boundText) \(String(format: "%7.1f", micros))")
        } catch {
            failed += 1
            print("FAIL   \(label) error: \(error)")
        }
    }

    /// ‖gpu − cpu‖ / ‖cpu‖ in double precision; infinite when the GPU left a NaN (an unwritten,
    /// poisoned element) or a non-finite value where the CPU has a finite one.
    static func relativeError(_ gpu: [Float], _ cpu: [Float]) -> Double {
        guard gpu.count == cpu.count else { return .infinity }
        var difference = 0.0, reference = 0.0
        for index in gpu.indices {
            if !gpu[index].isFinite && cpu[index].isFinite { return .infinity }
            if !cpu[index].isFinite { if gpu[index] != cpu[index] { return .infinity } else { continue } }
            let delta = Double(gpu[index]) - Double(cpu[index])
            difference += delta * delta
            reference += Double(cpu[index]) * Double(cpu[index])
        }
        return reference > 0 ? (difference / reference).squareRoot() : difference.squareRoot()
    }

    /// Microseconds of the work `body` queues, between two events.
    private func timed(_ body: () throws -> Void) throws -> Double {
        try start.record(on: stream)
        try body()
        try end.record(on: stream)
        try end.synchronize()
        try stream.synchronize()
        return Double(try end.milliseconds(since: start)) * 1000
    }

    /// `count` normal values * scale + offset, never exactly zero.
    private func values(_ count: Int, scale: Float = 1, offset: Float = 0) -> [Float] {
        (0..<count).map { _ in
            var value: Float = 0
            while value == 0 { value = random.normal() * scale + offset }
            return value
        }
    }

    /// The values as the GPU will store them (bf16-rounded for bf16), in fp32.
    private func rounded(_ values: [Float], _ type: DeviceElementType) -> [Float] {
        type == .f32 ? values : values.map { HalfPrecision.bf16ToFloat(HalfPrecision.floatToBF16($0)) }
    }

    private func hostBytes(_ values: [Float], _ type: DeviceElementType) -> HostBytes {
        let bytes = HostBytes(count: values.count * type.byteSize)
        for (index, value) in values.enumerated() {
            if type == .f32 {
                bytes.buffer.storeBytes(of: value.bitPattern, toByteOffset: index * 4, as: UInt32.self)
            } else {
                bytes.buffer.storeBytes(of: HalfPrecision.floatToBF16(value), toByteOffset: index * 2, as: UInt16.self)
            }
        }
        return bytes
    }

    /// A `[rows, columns]` device tensor holding `values` stored as `type`.
    private func upload(_ values: [Float], _ type: DeviceElementType, _ rows: Int, _ columns: Int) throws -> DeviceTensor {
        precondition(values.count == rows * columns)
        let tensor = try DeviceTensor(rows: rows, columns: columns, elementType: type, allocator: runtime.allocator)
        let bytes = hostBytes(values, type)
        try stream.copy(from: UnsafeRawBufferPointer(bytes.buffer), to: tensor.buffer)
        try stream.synchronize()  // the staging copy must finish before `bytes` is freed
        return tensor
    }

    private func uploadFloats(_ values: [Float]) throws -> DeviceBuffer {
        let buffer = try runtime.allocator.allocate(byteCount: values.count * 4)
        try stream.upload(values, to: buffer)
        return buffer
    }

    private func poisoned(rows: Int, columns: Int, _ type: DeviceElementType) throws -> DeviceTensor {
        let tensor = try DeviceTensor(rows: rows, columns: columns, elementType: type, allocator: runtime.allocator)
        try stream.fill(tensor.buffer, byte: 0xFF)
        return tensor
    }

    private func download(_ tensor: DeviceTensor) throws -> [Float] {
        if tensor.elementType == .f32 { return try stream.download(Float.self, count: tensor.count, from: tensor.buffer) }
        return try stream.download(UInt16.self, count: tensor.count, from: tensor.buffer).map(HalfPrecision.bf16ToFloat)
    }

}

/// Host memory that a `WeightSource` can point into.
final class HostBytes: @unchecked Sendable {
    let buffer: UnsafeMutableRawBufferPointer
    init(count: Int) { buffer = .allocate(byteCount: max(count, 1), alignment: 64) }
    deinit { buffer.deallocate() }
}

/// SplitMix64: a small, fast generator for test inputs.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    mutating func unit() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }

    /// Standard normal (Box–Muller).
    mutating func normal() -> Float {
        Float((-2 * Foundation.log(unit())).squareRoot() * Foundation.cos(2 * Double.pi * unit()))
    }
}
