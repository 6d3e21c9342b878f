import KilnCore

/// Dense element types: one element per "block", so `blocks` below counts elements.
/// Integer and f64 values convert with round-to-nearest-even, as numpy's `astype(float32)` does.
extension GGMLDequantizer {
    // F32: 4 bytes per element, copied bit for bit (NaN payloads included).
    static func expandF32(_ source: UnsafeRawPointer, _ count: Int, _ destination: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * 4)
    }

    // F16: IEEE binary16. Eight at a time with integer SIMD (no F16C at the x86-64 baseline) and
    // no lane masks (Swift's SIMD comparisons compile to slow per-lane code): exponent and
    // mantissa move up 13 bits and the exponent is rebiased by 112 (by 224 for inf/NaN, whose f16
    // exponent 31 must become 255); subnormals become mantissa * 2^-24.
    // Agrees bit for bit with `HalfPrecision.f16ToFloat` on all 65,536 inputs (tested).
    static func expandF16(_ source: UnsafeRawPointer, _ count: Int, _ destination: UnsafeMutablePointer<Float>) {
        let vectorEnd = count & ~7
        var index = 0
        while index < vectorEnd {
            let halves = SIMD8<UInt32>(truncatingIfNeeded:
                source.loadUnaligned(fromByteOffset: 2 * index, as: SIMD8<UInt16>.self))
            let sign = (halves & 0x8000) &<< 16
            let magnitude = (halves & 0x7FFF) &<< 13 // exponent and mantissa, in binary32 position
            let exponent = halves & 0x7C00
            let isInfOrNaN = (exponent &+ 0x0400) &>> 15 // 1 exactly when exponent == 0x7C00
            let isSubnormal = (exponent &- 1) &>> 31 // 1 exactly when exponent == 0
            let normal = magnitude &+ 0x3800_0000 &+ (isInfOrNaN &* 0x3800_0000)
            let mantissa = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: halves & 0x03FF))
            let subnormal = unsafeBitCast(mantissa * 0x1p-24, to: SIMD8<UInt32>.self)
            let subnormalMask = 0 &- isSubnormal // all ones or zero
            let bits = (normal & ~subnormalMask) | (subnormal & subnormalMask) | sign
            // Stored as bit patterns: the lanes are already binary32 encodings.
            UnsafeMutableRawPointer(destination + index).storeBytes(of: bits, as: SIMD8<UInt32>.self)
            index += 8
        }
        while index < count {
            destination[index] = HalfPrecision.f16ToFloat(source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
            index += 1
        }
    }

    // BF16: the top half of a binary32, so a 16-bit shift is exact.
    static func expandBF16(_ source: UnsafeRawPointer, _ count: Int, _ destination: UnsafeMutablePointer<Float>) {
        let vectorEnd = count & ~7
        var index = 0
        while index < vectorEnd {
            let halves = SIMD8<UInt32>(truncatingIfNeeded:
                source.loadUnaligned(fromByteOffset: 2 * index, as: SIMD8<UInt16>.self))
            UnsafeMutableRawPointer(destination + index).storeBytes(of: halves &<< 16, as: SIMD8<UInt32>.self)
            index += 8
        }
        while index < count {
            destination[index] = HalfPrecision.bf16ToFloat(source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
            index += 1
        }
    }

    static func expandF64(_ source: UnsafeRawPointer, _ count: Int, _ destination: UnsafeMutablePointer<Float>) {
        for index in 0..<count {
            destination[index] = Float(source.loadUnaligned(fromByteOffset: 8 * index, as: Double.self))
        }
    }

    static func expandI8(_ source: UnsafeRawPointer, _ count: Int, _ destination: UnsafeMutablePointer<Float>) {
        for index in 0..<count {
            destination[index] = Float(source.loadUnaligned(fromByteOffset: index, as: Int8.self))
        }
    }

    static func expandI16(_ source: UnsafeRawPointer, _ count: Int, _ destination: UnsafeMutablePointer<Float>) {
        for index in 0..<count {
            destination[index] = Float(source.loadUnaligned(fromByteOffset: 2 * index, as: Int16.self))
        }
    }

    static func expandI32(_ source: UnsafeRawPointer, _ count: Int, _ destination: UnsafeMutablePointer<Float>) {
        for index in 0..<count {
            destination[index] = Float(source.loadUnaligned(fromByteOffset: 4 * index, as: Int32.self))
        }
    }

    static func expandI64(_ source: UnsafeRawPointer, _ count: Int, _ destination: UnsafeMutablePointer<Float>) {
        for index in 0..<count {
            destination[index] = Float(source.loadUnaligned(fromByteOffset: 8 * index, as: Int64.self))
        }
    }
}
