import Foundation
import KilnCore
@testable import KilnFormats
import Testing

/// GGMLDequantizer against reference values from gguf-py (scripts/make_dequant_fixtures.py).
@Suite struct DequantizeTests {
    /// Types with a `<TYPE>.bin` / `<TYPE>.f32` fixture pair.
    static let fixtureTypes: [GGMLType] = [
        .f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64,
        .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .mxfp4,
        .q2K, .q3K, .q4K, .q5K, .q6K, .q8K,
    ]

    static func fixture(_ name: String) throws -> Data {
        let root = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return try Data(contentsOf: root.appendingPathComponent("dequant").appendingPathComponent(name))
    }

    /// Indices where `actual` and `expected` differ bit for bit (any NaN matches any NaN).
    static func mismatches(_ actual: UnsafeBufferPointer<Float>, _ expected: [Float]) -> [Int] {
        (0..<expected.count).filter { index in
            let a = actual[index], e = expected[index]
            return a.bitPattern != e.bitPattern && !(a.isNaN && e.isNaN)
        }
    }

    /// Expands `raw` with the source starting `misalignment` bytes past a 64-byte boundary.
    static func expand(
        _ type: GGMLType, _ raw: Data, count: Int, misalignment: Int, parallel: Bool = false
    ) throws -> [Float] {
        let source = UnsafeMutableRawPointer.allocate(byteCount: raw.count + misalignment, alignment: 64)
        defer { source.deallocate() }
        raw.withUnsafeBytes { source.advanced(by: misalignment).copyMemory(from: $0.baseAddress!, byteCount: raw.count) }
        var output = [Float](repeating: .nan, count: count)
        try output.withUnsafeMutableBufferPointer { destination in
            if parallel {
                try GGMLDequantizer.dequantizeParallel(type, from: source + misalignment, count: count, into: destination.baseAddress!)
            } else {
                try GGMLDequantizer.dequantize(type, from: source + misalignment, count: count, into: destination.baseAddress!)
            }
        }
        return output
    }

    @Test("matches gguf-py bit for bit, at any source alignment", arguments: fixtureTypes)
    func matchesReference(type: GGMLType) throws {
        let raw = try Self.fixture("\(type.name).bin")
        let expected = try Self.fixture("\(type.name).f32").withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(type.byteCount(elements: expected.count) == raw.count)
        for misalignment in [0, 1, 3] {
            let actual = try Self.expand(type, raw, count: expected.count, misalignment: misalignment)
            let bad = actual.withUnsafeBufferPointer { Self.mismatches($0, expected) }
            #expect(bad.count == 0, """
                \(type.name) misaligned by \(misalignment): \(bad.count) of \(expected.count) differ; \
                first at \(bad.first ?? -1): \(bad.first.map { actual[$0] } ?? 0) vs \(bad.first.map { expected[$0] } ?? 0)
                """)
        }
    }

    @Test("every type id, name and size agrees with gguf-py's GGML_QUANT_SIZES")
    func typeTable() throws {
        let table = try #require(String(data: try Self.fixture("types.tsv"), encoding: .utf8))
        var seen: Set<GGMLType> = []
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: "\t").map(String.init)
            try #require(fields.count == 4)
            let id = try #require(UInt32(fields[0]))
            let type = try #require(GGMLType(rawValue: id), "unknown id \(id)")
            #expect(type.name == fields[1])
            #expect(type.blockSize == Int(fields[2]), "\(type.name) block size")
            // gguf-py still sizes Q8_1 with the f32 `d` and `s` of old ggml (40 bytes); ggml's
            // block_q8_1 has been two f16s + 32 quants (36 bytes) since. Q8_1 never appears in files.
            let expectedSize = type == .q8_1 ? 36 : Int(fields[3])
            #expect(type.typeSize == expectedSize, "\(type.name) type size")
            seen.insert(type)
        }
        #expect(seen == Set(GGMLType.allCases))
    }

    @Test("canDequantize is exactly the set of types with a kernel")
    func canDequantizeMatchesKernels() {
        for type in GGMLType.allCases {
            #expect(type.canDequantize == (GGMLDequantizer.kernel(for: type) != nil), "\(type.name)")
        }
    }

    @Test func byteCount() {
        #expect(GGMLType.q4K.byteCount(elements: 4096 * 4096) == 4096 * 4096 / 256 * 144)
        #expect(GGMLType.q8_0.byteCount(elements: 64) == 68)
        #expect(GGMLType.f16.byteCount(elements: 3) == 6)
        #expect(GGMLType.q4K.byteCount(elements: 0) == 0)
        #expect(GGMLType.q4K.byteCount(elements: 255) == nil)
        #expect(GGMLType.q4_0.byteCount(elements: -32) == nil)
        #expect(GGMLType.f32.byteCount(elements: Int.max) == nil)
        #expect(GGMLType.q8K.byteCount(elements: Int.max / 256 * 256) == nil)
    }

    @Test("F16 agrees with HalfPrecision.f16ToFloat on all 65,536 bit patterns")
    func f16Exhaustive() throws {
        let patterns = (0...UInt16.max).map { $0 }
        let raw = patterns.withUnsafeBytes { Data($0) }
        let actual = try Self.expand(.f16, raw, count: patterns.count, misalignment: 1)
        let bad = patterns.indices.filter { actual[$0].bitPattern != HalfPrecision.f16ToFloat(patterns[$0]).bitPattern }
        #expect(bad.count == 0, "\(bad.count) differ; first pattern \(bad.first.map { String(patterns[$0], radix: 16) } ?? "")")
    }

    @Test("dequantizeParallel equals dequantize on inputs large enough to split",
          arguments: GGMLType.allCases.filter(\.canDequantize))
    func parallelMatchesSerial(type: GGMLType) throws {
        // 2^18 + 3 blocks' worth of elements: several tasks, with uneven splits.
        let count = ((1 << 18) / type.blockSize + 3) * type.blockSize
        let bytes = try #require(type.byteCount(elements: count))
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { buffer.deallocate() }
        GGMLDequantizer.fillSynthetic(type, buffer, blocks: count / type.blockSize)
        let raw = Data(bytes: buffer, count: bytes)
        let serial = try Self.expand(type, raw, count: count, misalignment: 0)
        let parallel = try Self.expand(type, raw, count: count, misalignment: 0, parallel: true)
        let bad = serial.withUnsafeBufferPointer { Self.mismatches($0, parallel) }
        #expect(bad.count == 0, "\(type.name): \(bad.count) of \(count) differ")
    }

    @Test("types without a kernel throw unsupported", arguments: GGMLType.allCases.filter { !$0.canDequantize })
    func unsupportedType(type: GGMLType) {
        var output = [Float](repeating: 0, count: type.blockSize)
        let input = [UInt8](repeating: 0, count: type.typeSize)
        input.withUnsafeBytes { source in
            output.withUnsafeMutableBufferPointer { destination in
                #expect(throws: KilnError.self) {
                    try GGMLDequantizer.dequantize(type, from: source.baseAddress!, count: type.blockSize, into: destination.baseAddress!)
                }
                #expect(throws: KilnError.self) {
                    try GGMLDequantizer.dequantizeParallel(type, from: source.baseAddress!, count: type.blockSize, into: destination.baseAddress!)
                }
            }
        }
        #expect(throws: KilnError.self) { try GGMLDequantizer.measureThroughput(type: type, elements: 256) }
    }

    @Test("counts that are not whole blocks throw unsupported; zero is a no-op")
    func badCount() throws {
        let input = [UInt8](repeating: 0, count: 1024)
        var output = [Float](repeating: 7, count: 1024)
        try input.withUnsafeBytes { source in
            try output.withUnsafeMutableBufferPointer { destination in
                for (type, count) in [(GGMLType.q4_0, 33), (.q4K, 255), (.q4K, 32), (.q8_0, -32), (.q6K, -1)] {
                    do {
                        try GGMLDequantizer.dequantize(type, from: source.baseAddress!, count: count, into: destination.baseAddress!)
                        Issue.record("\(type.name) with \(count) elements did not throw")
                    } catch let error as KilnError {
                        guard case .unsupported = error else {
                            Issue.record("\(type.name) with \(count) elements threw \(error), expected unsupported")
                            continue
                        }
                    }
                }
                try GGMLDequantizer.dequantize(.q4K, from: source.baseAddress!, count: 0, into: destination.baseAddress!)
            }
        }
        #expect(output.allSatisfy { $0 == 7 })
    }

    @Test func measureThroughputReportsBothRates() throws {
        let result = try GGMLDequantizer.measureThroughput(type: .q4K, elements: 1 << 14, runs: 1)
        #expect(result.elements == 1 << 14)
        #expect(result.seconds > 0)
        #expect(result.outputGBPerSecond > 0)
        #expect(abs(result.inputGBPerSecond / result.outputGBPerSecond - 144.0 / 1024.0) < 1e-9)
    }
}
