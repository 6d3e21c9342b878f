/// The 32-element block formats (ggml's `QK4_0` = `QK8_0` = 32).
///
/// In the 4- and 5-bit formats byte `j` of `qs` holds element `j` in its low nibble and element
/// `j + 16` in its high nibble; `qh` bit `j` (a little-endian u32) is the fifth bit of element `j`.
extension GGMLDequantizer {
    /// The 16 bits `bits` spread one per lane (lane `i` = bit `i`), as 0 or 16: the fifth bit of
    /// a 5-bit quant. Eight lanes per 64-bit word: the byte is copied into every byte lane, lane
    /// `i` keeps bit `i`, and adding 0x7F per lane carries into bit 7 exactly when that bit was set.
    @inline(__always)
    static func fifthBits(_ bits: UInt16) -> SIMD16<UInt8> {
        @inline(__always)
        func spread(_ byte: UInt16) -> UInt64 {
            let kept = (UInt64(byte & 0xFF) &* 0x0101_0101_0101_0101) & 0x8040_2010_0804_0201
            return ((kept &+ 0x7F7F_7F7F_7F7F_7F7F) & 0x8080_8080_8080_8080) &>> 3
        }
        return unsafeBitCast(SIMD2<UInt64>(spread(bits), spread(bits >> 8)), to: SIMD16<UInt8>.self)
    }

    // block_q4_0 (18 bytes / 32 elements): d f16 @0, qs[16] @2.
    // x = (nibble - 8) * d
    static func expandQ4_0(_ source: UnsafeRawPointer, _ blocks: Int, _ destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let base = source + block * 18
            let output = destination + block * 32
            let d = half(base, 0)
            let qs = bytes16(base, 2)
            store(d * floats(qs & 0x0F, minus: 8), output, 0)
            store(d * floats(qs &>> 4, minus: 8), output, 16)
        }
    }

    // block_q4_1 (20 bytes / 32 elements): d f16 @0, m f16 @2, qs[16] @4.
    // x = nibble * d + m
    static func expandQ4_1(_ source: UnsafeRawPointer, _ blocks: Int, _ destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let base = source + block * 20
            let output = destination + block * 32
            let d = half(base, 0)
            let m = half(base, 2)
            let qs = bytes16(base, 4)
            store(floats(qs & 0x0F) * d + m, output, 0)
            store(floats(qs &>> 4) * d + m, output, 16)
        }
    }

    // block_q5_0 (22 bytes / 32 elements): d f16 @0, qh u32 @2, qs[16] @6.
    // x = ((nibble | fifth bit << 4) - 16) * d
    static func expandQ5_0(_ source: UnsafeRawPointer, _ blocks: Int, _ destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let base = source + block * 22
            let output = destination + block * 32
            let d = half(base, 0)
            let qh = base.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
            let qs = bytes16(base, 6)
            let low = (qs & 0x0F) | fifthBits(UInt16(truncatingIfNeeded: qh))
            let high = (qs &>> 4) | fifthBits(UInt16(truncatingIfNeeded: qh >> 16))
            store(d * floats(low, minus: 16), output, 0)
            store(d * floats(high, minus: 16), output, 16)
        }
    }

    // block_q5_1 (24 bytes / 32 elements): d f16 @0, m f16 @2, qh u32 @4, qs[16] @8.
    // x = (nibble | fifth bit << 4) * d + m
    static func expandQ5_1(_ source: UnsafeRawPointer, _ blocks: Int, _ destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let base = source + block * 24
            let output = destination + block * 32
            let d = half(base, 0)
            let m = half(base, 2)
            let qh = base.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            let qs = bytes16(base, 8)
            let low = (qs & 0x0F) | fifthBits(UInt16(truncatingIfNeeded: qh))
            let high = (qs &>> 4) | fifthBits(UInt16(truncatingIfNeeded: qh >> 16))
            store(floats(low) * d + m, output, 0)
            store(floats(high) * d + m, output, 16)
        }
    }

    // block_q8_0 (34 bytes / 32 elements): d f16 @0, qs[32] i8 @2.
    // x = q * d
    static func expandQ8_0(_ source: UnsafeRawPointer, _ blocks: Int, _ destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let base = source + block * 34
            let output = destination + block * 32
            let d = half(base, 0)
            store(signedFloats(bytes16(base, 2)) * d, output, 0)
            store(signedFloats(bytes16(base, 18)) * d, output, 16)
        }
    }

    // block_mxfp4 (17 bytes / 32 elements): e u8 @0 (E8M0 shared exponent), qs[16] @1 (E2M1 nibbles).
    // x = doubled E2M1 value of the nibble * 2^(e - 128); ggml folds the halving into the scale.
    static func expandMXFP4(_ source: UnsafeRawPointer, _ blocks: Int, _ destination: UnsafeMutablePointer<Float>) {
        // E2M1 values times two: 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives.
        let doubledE2M1: SIMD16<Float> = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]
        withUnsafeBytes(of: doubledE2M1) { tableBytes in
            let table = tableBytes.baseAddress!.assumingMemoryBound(to: Float.self)
            for block in 0..<blocks {
                let base = source + block * 17
                let output = destination + block * 32
                let e = UInt32(base.load(fromByteOffset: 0, as: UInt8.self))
                // ggml_e8m0_to_fp32_half: 2^(e - 128), a binary32 subnormal for e < 2.
                let d = Float(bitPattern: e < 2 ? 0x0020_0000 << e : (e - 1) << 23)
                for j in 0..<16 {
                    let byte = base.load(fromByteOffset: 1 + j, as: UInt8.self)
                    output[j] = table[Int(byte & 0x0F)] * d
                    output[j + 16] = table[Int(byte >> 4)] * d
                }
            }
        }
    }
}
