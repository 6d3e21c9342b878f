import Dispatch
import Foundation
import KilnBackend
import KilnCore
import KilnCPU
import KilnCUDA

/// The matrix-product checks of `kiln check gpu`: `MatmulEngine.linear` (cuBLASLt, autotuned)
/// against `CPUBackend.linear` in fp32 (bound 1e-5) and against a float64 sum of the same
/// bf16-rounded inputs in bf16 (bound 1e-2), with and without bias, on fresh random inputs with
/// the output poisoned (NaN) before each call. Each shape is called twice: the first call
/// autotunes, the second is the steady state, timed; both outputs are compared. Every output
/// element is checked for NaN; the error is measured on up to 16 rows (all of them when M <= 16).
/// Last, the autotuned choice and time of Gemma-2B's products at decode, batch and prefill sizes.
final class GPUMatmulChecks {
    let runtime: CUDARuntime
    let stream: CUDAStream
    let quick: Bool
    let cpu = CPUBackend()
    private var random: SplitMix64
    private let start: CUDAEvent
    private let end: CUDAEvent

    init(runtime: CUDARuntime, stream: CUDAStream, seed: UInt64, quick: Bool) throws {
        self.runtime = runtime
        self.stream = stream
        self.quick = quick
        random = SplitMix64(seed: seed)
        start = try CUDAEvent(device: runtime.device)
        end = try CUDAEvent(device: runtime.device)
    }

    /// (M, N, K): every M of 1, 3, 17, 128, 2048, N of 1, 7, 257, 2560, 32768 and K of 64, 577,
    /// 2048, 16384 appears, odd sizes (unaligned bf16 rows) included.
    var shapes: [(Int, Int, Int)] {
        let all = [(1, 1, 64), (1, 7, 577), (3, 257, 2048), (17, 2560, 577), (1, 32768, 2048), (3, 2560, 16384),
                   (17, 1, 16384), (128, 257, 577), (128, 2560, 2048), (2048, 7, 2048), (2048, 257, 64),
                   (128, 32768, 64), (17, 2560, 16384), (2048, 2560, 2048), (2048, 32768, 2048)]
        return quick ? [(1, 7, 577), (3, 257, 2048), (17, 2560, 577), (128, 2560, 2048), (2048, 7, 2048)] : all
    }

    /// Runs every check, reporting each pass (true) or failure (false) to `report`.
    func runAll(_ report: (Bool) -> Void) throws {
        let engine: MatmulEngine
        do {
            engine = try MatmulEngine(runtime: runtime)
        } catch {
            print("FAIL   matmul            cuBLASLt did not open: \(error)")
            report(false)
            return
        }
        print("cuBLASLt \(engine.blas.versionText) (built for CUDA \(CUDADriver.versionText(engine.blas.cudaVersion))) from \(engine.blas.library.path); "
              + "workspace \(DeviceAllocator.bytesText(engine.workspace.byteCount)), autotuning up to \(engine.maximumCandidates) candidates per shape")
        print("result kernel  type      shape (x · Wᵀ)                  bias  ‖gpu−ref‖/‖ref‖  bound  tune ms  call µs  algorithm")
        for (rows, outputs, inputs) in shapes {
            // Fresh inputs per shape, shared by its six checks (three precisions, bias or not).
            let x = values(rows * inputs), weight = values(outputs * inputs), bias = values(outputs)
            for precision in [MatmulPrecision.f32, .bf16ToF32, .bf16] {
                for withBias in [false, true] {
                    report(check(engine, rows: rows, outputs: outputs, inputs: inputs, precision: precision,
                                 x: x, weight: weight, bias: withBias ? bias : nil))
                }
            }
        }
        report(checkRestore(from: engine))
        try reportGemmaShapes(engine)
    }

    /// An engine with autotuning off that restores the first engine's record must run the
    /// restored algorithms (the 64-byte descriptors survive the text round trip) correctly.
    private func checkRestore(from engine: MatmulEngine) -> Bool {
        do {
            let record = engine.autotuneRecord()
            let restoredEngine = try MatmulEngine(runtime: runtime, autotune: false)
            let restored = restoredEngine.restore(record)
            print("restore: \(restored) of \(record.count - 2) choices taken by an engine with autotuning off (cuBLASLt \(record["cublasLt"] ?? "?"), \(record["device"] ?? "?"))")
            let (rows, outputs, inputs) = (17, 2560, 577)
            let x = values(rows * inputs), weight = values(outputs * inputs), bias = values(outputs)
            return check(restoredEngine, rows: rows, outputs: outputs, inputs: inputs, precision: .bf16ToF32, x: x, weight: weight, bias: bias)
                && restored == record.count - 2 && restored > 0
        } catch {
            print("FAIL   matmul restore     error: \(error)")
            return false
        }
    }

    // MARK: - Parity

    private func check(_ engine: MatmulEngine, rows: Int, outputs: Int, inputs: Int, precision: MatmulPrecision,
                       x: [Float], weight: [Float], bias: [Float]?) -> Bool {
        let bound = precision.output == .f32 && precision.input == .f32 ? 1e-5 : 1e-2
        let label = "matmul " + precision.description.padding(toLength: 9, withPad: " ", startingAt: 0)
            + " " + "[\(rows), \(inputs)] · [\(outputs), \(inputs)]ᵀ".padding(toLength: 31, withPad: " ", startingAt: 0)
            + " " + (bias == nil ? "no  " : "yes ")
        do {
            let xValues = rounded(x, precision.input), weightValues = rounded(weight, precision.input)
            let biasValues = bias.map { rounded($0, precision.output) }
            let gpuX = try upload(xValues, precision.input, rows, inputs)
            let gpuWeight = try upload(weightValues, precision.input, outputs, inputs)
            let gpuBias = try biasValues.map { try upload($0, precision.output, 1, outputs).buffer }
            let out = try DeviceTensor(rows: rows, columns: outputs, elementType: precision.output, allocator: runtime.allocator)

            let checkedRows = sampleRows(rows)
            let expected = try reference(precision, rows: checkedRows, outputs: outputs, inputs: inputs,
                                         x: xValues, weight: weightValues, bias: biasValues)
            var errors: [Double] = []
            var tuneMilliseconds = 0.0, callMicroseconds = 0.0
            for call in 0..<2 {
                try stream.fill(out.buffer, byte: 0xFF)
                let clock = Date()
                let micros = try timed { try engine.linear(x: gpuX, weight: gpuWeight, bias: gpuBias, out: out, on: stream) }
                if call == 0 { tuneMilliseconds = Date().timeIntervalSince(clock) * 1000 } else { callMicroseconds = micros }
                let gpu = try download(out)
                if gpu.contains(where: { !$0.isFinite }) { errors.append(.infinity); continue }
                let sampled = checkedRows.flatMap { gpu[($0 * outputs)..<(($0 + 1) * outputs)] }
                errors.append(GPUParityChecks.relativeError(sampled, expected))
            }
            let error = errors.max() ?? .infinity
            let ok = error < bound
            let key = MatmulTuningKey(LinearProblem(rows: rows, outputs: outputs, inputs: inputs), precision: precision, bias: bias != nil)
            let algorithm = engine.choice(for: key).map { $0.summary + ($0.tunedRows == rows ? "" : " (tuned at M \($0.tunedRows))") } ?? "heuristic"
            print("\(ok ? "PASS" : "FAIL")   \(label) \(String(format: "%-16.2e %-6.0e %7.1f %8.1f", error, bound, tuneMilliseconds, callMicroseconds))  \(algorithm)")
            return ok
        } catch {
            print("FAIL   \(label) error: \(error)")
            return false
        }
    }

    /// All rows when there are at most 16, else the first, the last and 14 others at random.
    private func sampleRows(_ rows: Int) -> [Int] {
        guard rows > 16 else { return Array(0..<rows) }
        var chosen: Set<Int> = [0, rows - 1]
        while chosen.count < 16 { chosen.insert(Int(random.next() % UInt64(rows))) }
        return chosen.sorted()
    }

    /// Expected outputs of `rows` (row-major `[rows.count, outputs]`): `CPUBackend.linear` for
    /// fp32, a float64 sum for bf16 (rounded inputs; the GPU's output rounding is within the bound).
    private func reference(_ precision: MatmulPrecision, rows: [Int], outputs: Int, inputs: Int,
                           x: [Float], weight: [Float], bias: [Float]?) throws -> [Float] {
        if precision == .f32 {
            let weightBytes = HostBytes(count: weight.count * 4)
            weight.withUnsafeBytes { weightBytes.buffer.copyMemory(from: $0) }
            let source = try WeightSource(name: "weight", shape: [outputs, inputs], storage: .dense(.f32),
                                          bytes: UnsafeRawBufferPointer(weightBytes.buffer), owner: weightBytes)
            let input = cpu.makeTensor(rows: rows.count, columns: inputs), out = cpu.makeTensor(rows: rows.count, columns: outputs)
            for (index, row) in rows.enumerated() {
                x.withUnsafeBufferPointer { input.data.advanced(by: index * inputs).update(from: $0.baseAddress! + row * inputs, count: inputs) }
            }
            cpu.linear(input, weight: try cpu.loadWeight(source), bias: try bias.map { try cpu.loadVector($0, name: "bias") }, into: out)
            return cpu.read(out)
        }
        let expected = UnsafeMutableBufferPointer<Float>.allocate(capacity: rows.count * outputs)
        defer { expected.deallocate() }
        let shared = UncheckedBox((expected, x, weight, bias))
        let chunks = min(outputs, ProcessInfo.processInfo.activeProcessorCount * 4)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let (expected, x, weight, bias) = shared.value
            x.withUnsafeBufferPointer { x in
                weight.withUnsafeBufferPointer { weight in
                    for output in stride(from: chunk, to: outputs, by: chunks) {
                        let w = weight.baseAddress! + output * inputs
                        for (index, row) in rows.enumerated() {
                            let v = x.baseAddress! + row * inputs
                            var sum = Double(bias?[output] ?? 0)
                            for k in 0..<inputs { sum += Double(v[k]) * Double(w[k]) }
                            expected[index * outputs + output] = Float(sum)
                        }
                    }
                }
            }
        }
        return Array(expected)
    }

    // MARK: - Gemma-2B

    /// Gemma-2B's products (hidden 2048, 8 query heads and 1 KV head of 256, MLP 16384, vocabulary
    /// 256000) in bf16 at M = 1 (decode), 64 (a batch) and 2048 (a prefill): the autotuned
    /// algorithm, its time, and the heuristic's first choice's time.
    private func reportGemmaShapes(_ engine: MatmulEngine) throws {
        let products = quick ? [("qkv", 2560, 2048)]
            : [("qkv", 2560, 2048), ("o", 2048, 2048), ("gate_up", 32768, 2048), ("down", 2048, 16384), ("lm_head", 256_000, 2048)]
        let sizes = quick ? [1] : [1, 64, 2048]
        print("autotune: Gemma-2B shapes, bf16 in, bf16 out, no bias; times are means of back-to-back calls (weights may stay in L2 at small sizes)")
        print("product   M     N       K       tuned µs  first µs  gain   TFLOP/s  GB/s    tune ms  algorithm (heuristic rank)")
        for rows in sizes {
            for (name, outputs, inputs) in products {
                let problem = LinearProblem(rows: rows, outputs: outputs, inputs: inputs)
                let clock = Date()
                let choice = try engine.tune(problem, precision: .bf16, bias: false, on: stream)
                let tuneMilliseconds = Date().timeIntervalSince(clock) * 1000
                let seconds = choice.microseconds / 1e6
                let flops = 2 * Double(problem.multiplyAdds) / seconds / 1e12
                let bytes = Double((rows * inputs + outputs * inputs + rows * outputs) * 2) / seconds / 1e9
                let gain = choice.heuristicMicroseconds.isFinite ? String(format: "%4.2fx", choice.heuristicMicroseconds / choice.microseconds) : "  -  "
                print(name.padding(toLength: 9, withPad: " ", startingAt: 0)
                      + String(format: " %-5d %-7d %-7d %9.2f %9.2f  %@  %7.1f  %6.0f  %7.0f  ", rows, outputs, inputs, choice.microseconds,
                               choice.heuristicMicroseconds, gain, flops, bytes, tuneMilliseconds)
                      + "\(choice.summary) (\(choice.rank + 1) of \(choice.candidates))")
            }
        }
        let record = engine.autotuneRecord()
        print("autotune record: \(record.count - 2) choices for the engine manifest, e.g. "
              + (record.first { $0.key.hasPrefix("matmul bf16 m1 n2560") }.map { "\"\($0.key)\": \"\($0.value)\"" } ?? "(none)"))
    }

    // MARK: - Harness

    /// `count` values uniform in ±√3 (unit variance, zero mean), never exactly zero.
    private func values(_ count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            var index = 0
            var bits: UInt64 = 0, halves = 0
            while index < count {
                if halves == 0 { bits = random.next(); halves = 2 }
                let half = bits & 0xFFFF_FFFF
                bits >>= 32
                halves -= 1
                let unit = Float(half) / 4_294_967_296  // [0, 1]
                buffer[index] = (unit * 2 - 1) * 1.732_050_8
                if buffer[index] != 0 { index += 1 }
            }
            initialized = count
        }
    }

    /// The values as the GPU stores them (bf16-rounded for bf16), in fp32.
    private func rounded(_ values: [Float], _ type: DeviceElementType) -> [Float] {
        type == .f32 ? values : values.map { HalfPrecision.bf16ToFloat(HalfPrecision.floatToBF16($0)) }
    }

    private func upload(_ values: [Float], _ type: DeviceElementType, _ rows: Int, _ columns: Int) throws -> DeviceTensor {
        let tensor = try DeviceTensor(rows: rows, columns: columns, elementType: type, allocator: runtime.allocator)
        if type == .f32 {
            try stream.upload(values, to: tensor.buffer)
        } else {
            try stream.upload(values.map(HalfPrecision.floatToBF16), to: tensor.buffer)
        }
        try stream.synchronize()
        return tensor
    }

    private func download(_ tensor: DeviceTensor) throws -> [Float] {
        if tensor.elementType == .f32 { return try stream.download(Float.self, count: tensor.count, from: tensor.buffer) }
        return try stream.download(UInt16.self, count: tensor.count, from: tensor.buffer).map(HalfPrecision.bf16ToFloat)
    }

    /// Microseconds of the work `body` queues, between two events.
    private func timed(_ body: () throws -> Void) throws -> Double {
        try start.record(on: stream)
        try body()
        try end.record(on: stream)
        try end.synchronize()
        return Double(try end.milliseconds(since: start)) * 1000
    }
}

/// Lets the float64 reference's workers share buffers they only read or write disjointly.
private struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
