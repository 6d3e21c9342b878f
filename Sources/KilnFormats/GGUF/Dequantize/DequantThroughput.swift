import KilnCore

/// How fast `GGMLDequantizer` expands one type: bytes read and floats written per second.
public struct DequantThroughput: Sendable, Equatable {
    /// The type measured.
    public let type: GGMLType
    /// Elements expanded per run.
    public let elements: Int
    /// Whether the measured runs used `dequantizeParallel`.
    public let parallel: Bool
    /// Wall time of the fastest run, in seconds.
    public let seconds: Double
    /// Quantised input read, in GB/s (10^9 bytes per second).
    public var inputGBPerSecond: Double { Double(type.byteCount(elements: elements) ?? 0) / seconds / 1e9 }
    /// `Float` output written, in GB/s (10^9 bytes per second).
    public var outputGBPerSecond: Double { Double(elements * 4) / seconds / 1e9 }
}

extension GGMLDequantizer {
    /// Times the expansion of `elements` elements of `type` (rounded down to whole blocks, at
    /// least one) of synthetic data: the fastest of `runs` runs after one untimed run that
    /// faults the output pages in. Throws `KilnError.unsupported` when the type has no kernel.
    ///
    /// The input is pseudo-random bytes with every block scale set to a moderate value, so no
    /// run pays for NaN, infinity or subnormal arithmetic.
    public static func measureThroughput(
        type: GGMLType, elements: Int, parallel: Bool = false, runs: Int = 3
    ) throws -> DequantThroughput {
        _ = try plan(type, count: 0)
        let blocks = max(1, elements / type.blockSize)
        let count = blocks * type.blockSize
        let input = UnsafeMutableRawPointer.allocate(byteCount: blocks * type.typeSize, alignment: 64)
        let output = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer {
            input.deallocate()
            output.deallocate()
        }
        fillSynthetic(type, input, blocks: blocks)

        let clock = ContinuousClock()
        var best = Duration.seconds(Int64.max)
        for run in 0...max(1, runs) {
            let elapsed = clock.measure {
                if parallel {
                    try? dequantizeParallel(type, from: input, count: count, into: output)
                } else {
                    try? dequantize(type, from: input, count: count, into: output)
                }
            }
            if run > 0 { best = min(best, elapsed) }
        }
        let seconds = Double(best.components.seconds) + Double(best.components.attoseconds) * 1e-18
        return DequantThroughput(type: type, elements: count, parallel: parallel, seconds: seconds)
    }

    /// Writes `blocks` blocks of xorshift bytes, then overwrites each block's scale fields with
    /// moderate values (f16 0.0625, f32 0.0625, E8M0 2^-1) and dense floats with finite ones.
    static func fillSynthetic(_ type: GGMLType, _ buffer: UnsafeMutableRawPointer, blocks: Int) {
        let bytes = blocks * type.typeSize
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var offset = 0
        while offset < bytes {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            let chunk = min(8, bytes - offset)
            withUnsafeBytes(of: state.littleEndian) { word in
                buffer.advanced(by: offset).copyMemory(from: word.baseAddress!, byteCount: chunk)
            }
            offset += chunk
        }
        let f16Scale: UInt16 = 0x2C00 // 0.0625
        let halfOffsets: [Int]
        switch type {
        case .q4_0, .q5_0, .q8_0: halfOffsets = [0]
        case .q4_1, .q5_1, .q4K, .q5K: halfOffsets = [0, 2]
        case .q2K: halfOffsets = [80, 82]
        case .q3K: halfOffsets = [108]
        case .q6K: halfOffsets = [208]
        case .q8K:
            for block in 0..<blocks { buffer.storeBytes(of: Float(0.0625), toByteOffset: block * 292, as: Float.self) }
            return
        case .mxfp4:
            for block in 0..<blocks { buffer.storeBytes(of: UInt8(126), toByteOffset: block * 17, as: UInt8.self) }
            return
        case .f32:
            for index in 0..<blocks {
                let value = Float(index & 0xFFFF) * 0x1p-10
                buffer.storeBytes(of: value, toByteOffset: 4 * index, as: Float.self)
            }
            return
        case .f64:
            for index in 0..<blocks {
                buffer.storeBytes(of: Double(index & 0xFFFF) * 0x1p-10, toByteOffset: 8 * index, as: Double.self)
            }
            return
        default: halfOffsets = []
        }
        for block in 0..<blocks {
            for field in halfOffsets {
                buffer.storeBytes(of: f16Scale, toByteOffset: block * type.typeSize + field, as: UInt16.self)
            }
        }
    }
}
