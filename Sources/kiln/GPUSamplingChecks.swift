import Foundation
import KilnCore
import KilnCUDA
import KilnEngine

/// The sampling checks of `kiln check gpu`: `CUDAKernels.sample` (sampling.cu) against its CPU
/// twin `GPUSamplingReference` on fresh random logits, f32 and bf16 (the twin gets the same
/// bf16-rounded values), vocabularies from 1 to 262,144 (odd ones included), one launch per
/// line with different parameters and uniforms per row. The contract makes the ids exact: every
/// row must match (no tolerance). Ids are poisoned (-1) before each launch.
final class GPUSamplingChecks {
    let runtime: CUDARuntime
    let stream: CUDAStream
    let quick: Bool
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

    typealias Parameters = GPUSamplingReference.Parameters

    /// Parameter sets by name; a launch's rows cycle through one set.
    static let combinations: [(name: String, rows: [Parameters])] = [
        ("temperature", [.init(temperature: 1), .init(temperature: 0.7), .init(temperature: 1.6)]),
        ("top-k", [.init(temperature: 0.8, topK: 1), .init(temperature: 1, topK: 50), .init(temperature: 1.2, topK: 5000)]),
        ("top-p", [.init(temperature: 1, topP: 0.9), .init(temperature: 0.6, topP: 0.5), .init(temperature: 2, topP: 0.99)]),
        ("min-p", [.init(temperature: 1, minP: 0.05), .init(temperature: 1.5, minP: 0.2)]),
        ("k+p+min-p", [.init(temperature: 0.8, topK: 40, topP: 0.8, minP: 0.02), .init(temperature: 1, topK: 1000, topP: 0.95, minP: 0.1),
                       .init(temperature: 1, topK: 200, topP: 0.3)]),
        ("greedy", [.init(temperature: 0, topK: 50, topP: 0.9), .init(temperature: 1, topP: 0.9)]),  // the second row gets a +inf logit
    ]

    /// (rows, vocabulary, kind of logits).
    var shapes: [(Int, Int, String)] {
        quick ? [(6, 577, "normal"), (6, 32003, "ties"), (4, 262_144, "normal")]
            : [(3, 1, "normal"), (6, 7, "normal"), (6, 577, "normal"), (6, 4099, "nan -inf"), (8, 32000, "peaked"),
               (6, 32003, "ties"), (4, 151_937, "normal"), (4, 262_144, "peaked"), (3, 262_143, "ties")]
    }

    /// Runs every check, reporting each pass (true) or failure (false) to `report`.
    func runAll(_ report: (Bool) -> Void) {
        print("result kernel  type  shape                 logits    parameters    ids                  gpu µs")
        for (rows, vocabulary, kind) in shapes {
            for combination in Self.combinations {
                for type in DeviceElementType.allCases {
                    report(check(rows: rows, vocabulary: vocabulary, kind: kind, combination: combination, type: type))
                }
            }
        }
    }

    /// One launch of `rows` rows, compared row by row with the twin; prints one line.
    private func check(rows: Int, vocabulary: Int, kind: String, combination: (name: String, rows: [Parameters]),
                       type: DeviceElementType) -> Bool {
        let label = "sample  " + type.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0) + " "
            + "[\(rows), \(vocabulary)]".padding(toLength: 21, withPad: " ", startingAt: 0) + " "
            + kind.padding(toLength: 9, withPad: " ", startingAt: 0) + " " + combination.name.padding(toLength: 13, withPad: " ", startingAt: 0)
        do {
            let parameters = (0..<rows).map { combination.rows[$0 % combination.rows.count] }
            let logits = makeLogits(rows: rows, vocabulary: vocabulary, kind: kind, type: type, plantInfinity: combination.name == "greedy")
            // The ends of [0, 1) on the first two rows, random elsewhere.
            let uniforms = (0..<rows).map { $0 == 0 ? 0 : $0 == 1 ? 1 - 0x1p-53 : Double(random.next() >> 11) * 0x1p-53 }
            let gpuLogits = try DeviceTensor(rows: rows, columns: vocabulary, elementType: type, allocator: runtime.allocator)
            if type == .f32 {
                try stream.upload(logits, to: gpuLogits.buffer)
            } else {
                try stream.upload(logits.map(HalfPrecision.floatToBF16), to: gpuLogits.buffer)
            }
            let temperatures = try upload(parameters.map(\.temperature)), topKs = try upload(parameters.map { Int32($0.topK) })
            let topPs = try upload(parameters.map(\.topP)), minPs = try upload(parameters.map(\.minP)), gpuUniforms = try upload(uniforms)
            let ids = try runtime.allocator.allocate(byteCount: rows * 4)
            try stream.fill(ids, byte: 0xFF)
            try start.record(on: stream)
            try runtime.kernels.sample(gpuLogits, temperatures: temperatures, topKs: topKs, topPs: topPs, minPs: minPs,
                                       uniforms: gpuUniforms, ids: ids, on: stream)
            try end.record(on: stream)
            try end.synchronize()
            let micros = Double(try end.milliseconds(since: start)) * 1000
            let gpuIDs = try stream.download(Int32.self, count: rows, from: ids)
            var differing: [String] = []
            logits.withUnsafeBufferPointer { all in
                for row in 0..<rows {
                    let values = UnsafeBufferPointer(rebasing: all[(row * vocabulary)..<((row + 1) * vocabulary)])
                    let expected = GPUSamplingReference.sample(values, parameters[row], unit: uniforms[row])
                    if Int(gpuIDs[row]) != expected { differing.append("row \(row): gpu \(gpuIDs[row]), cpu \(expected)") }
                }
            }
            let ok = differing.isEmpty
            let measure = ok ? "\(rows) rows equal" : "\(differing.count) rows differ"
            print("\(ok ? "PASS" : "FAIL")   \(label) \(measure.padding(toLength: 20, withPad: " ", startingAt: 0)) \(String(format: "%7.1f", micros))")
            if !ok { print("         " + differing.prefix(4).joined(separator: "; ")) }
            return ok
        } catch {
            print("FAIL   \(label) error: \(error)")
            return false
        }
    }

    /// `rows` x `vocabulary` logits, as the GPU stores them (bf16-rounded for bf16): "normal"
    /// (standard deviation 3), "peaked" (8: a few tokens hold the mass), "ties" (multiples of
    /// 0.5: long runs of equal logits at every cut), "nan -inf" (1 in 7 of them NaN or -inf, and
    /// the last row all -inf). With `plantInfinity`, a +inf in every second row.
    private func makeLogits(rows: Int, vocabulary: Int, kind: String, type: DeviceElementType, plantInfinity: Bool) -> [Float] {
        let spread: Float = kind == "peaked" ? 8 : 3
        var logits = (0..<(rows * vocabulary)).map { _ in random.normal() * spread }
        if kind == "ties" { logits = logits.map { ($0 * 2).rounded() / 2 } }
        if kind == "nan -inf" {
            for index in logits.indices where random.next() % 7 == 0 { logits[index] = random.next() % 2 == 0 ? .nan : -.infinity }
            for index in 0..<vocabulary { logits[(rows - 1) * vocabulary + index] = -.infinity }
        }
        if plantInfinity {
            for row in stride(from: 1, to: rows, by: 2) { logits[row * vocabulary + Int(random.next() % UInt64(vocabulary))] = .infinity }
        }
        return type == .f32 ? logits : logits.map { HalfPrecision.bf16ToFloat(HalfPrecision.floatToBF16($0)) }
    }

    private func upload<Element: BitwiseCopyable>(_ values: [Element]) throws -> DeviceBuffer {
        let buffer = try runtime.allocator.allocate(byteCount: values.count * MemoryLayout<Element>.stride)
        try stream.upload(values, to: buffer)
        return buffer
    }
}
