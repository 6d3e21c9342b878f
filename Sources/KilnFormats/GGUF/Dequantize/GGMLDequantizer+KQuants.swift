/// The k-quants: 256-element super-blocks (ggml's `QK_K`) of 16 or 32-element sub-blocks, each
/// sub-block with its own small integer scale (and min) times the super-block's f16 `d` (`dmin`).
///
/// Each kernel works 16 lanes at a time; the 16-lane groups never straddle a sub-block, so one
/// scale per group is broadcast. Groups are written as an always-inlined local function called
/// with literal arguments, so every shift and scale lane is a compile-time constant (a loop
/// makes the compiler spill the scale vector to index it). The sub-block scale products
/// (`d * scale`) are formed first, as ggml does, so results are bit-identical to
/// `dequantize_row_q*_K`.
extension GGMLDequantizer {
    // block_q2_K (84 bytes / 256 elements): scales[16] @0, qs[64] @16, d f16 @80, dmin f16 @82.
    // scales[k]: low nibble = scale, high nibble = min of 16-element sub-block k.
    // Element 128h + 32j + l (h < 2, j < 4, l < 32) = bits 2j...2j+1 of qs[32h + l], sub-block 8h + 2j + l / 16.
    // x = (d * scale) * q - (dmin * min)
    static func expandQ2K(_ source: UnsafeRawPointer, _ blocks: Int, _ destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let base = source + block * 84
            let output = destination + block * 256
            let d = half(base, 80)
            let dmin = half(base, 82)
            let packed = bytes16(base, 0)
            let scales = d * floats(packed & 0x0F) // [16] per sub-block
            let mins = dmin * floats(packed &>> 4) // [16]
            @inline(__always)
            func group(_ h: Int, _ j: Int) {
                let qsA = bytes16(base, 16 + 32 * h) // l in 0..<16
                let qsB = bytes16(base, 32 + 32 * h) // l in 16..<32
                let shift = UInt8(2 * j)
                let subBlock = 8 * h + 2 * j
                let index = 128 * h + 32 * j
                store(scales[subBlock] * floats((qsA &>> shift) & 3) - mins[subBlock], output, index)
                store(scales[subBlock + 1] * floats((qsB &>> shift) & 3) - mins[subBlock + 1], output, index + 16)
            }
            group(0, 0); group(0, 1); group(0, 2); group(0, 3)
            group(1, 0); group(1, 1); group(1, 2); group(1, 3)
        }
    }

    // block_q3_K (110 bytes / 256 elements): hmask[32] @0, qs[64] @32, scales[12] @96, d f16 @108.
    // 16 signed 6-bit scales (stored + 32): scale k = low nibble of scales[k % 8] (k < 8) or its
    // high nibble (k >= 8), with bits 4-5 = bits 2(k / 4)...2(k / 4)+1 of scales[8 + k % 4].
    // Element 128h + 32j + l (h < 2, j < 4, l < 32): q2 = bits 2j...2j+1 of qs[32h + l], high bit =
    // bit 4h + j of hmask[l]; value = q2 - 4 when the high bit is clear, q2 when set. Sub-block 8h + 2j + l / 16.
    // x = (d * (scale - 32)) * value
    static func expandQ3K(_ source: UnsafeRawPointer, _ blocks: Int, _ destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let base = source + block * 110
            let output = destination + block * 256
            let d = half(base, 108)
            let lowBytes = base.loadUnaligned(fromByteOffset: 96, as: SIMD8<UInt8>.self)
            let highBytes = base.loadUnaligned(fromByteOffset: 104, as: SIMD4<UInt8>.self)
            let lowBits = SIMD16<UInt8>(lowHalf: lowBytes & 0x0F, highHalf: lowBytes &>> 4)
            let highBits = SIMD16<UInt8>(
                lowHalf: SIMD8(lowHalf: highBytes, highHalf: highBytes &>> 2),
                highHalf: SIMD8(lowHalf: highBytes &>> 4, highHalf: highBytes &>> 6)) & 3
            let scales = d * floats(lowBits | (highBits &<< 4), minus: 32) // [16] per sub-block
            let hmaskA = bytes16(base, 0) // l in 0..<16
            let hmaskB = bytes16(base, 16) // l in 16..<32
            @inline(__always)
            func group(_ h: Int, _ j: Int) {
                let qsA = bytes16(base, 32 + 32 * h)
                let qsB = bytes16(base, 48 + 32 * h)
                let shift = UInt8(2 * j)
                let hbit = UInt8(4 * h + j)
                let subBlock = 8 * h + 2 * j
                let index = 128 * h + 32 * j
                // q2 | high bit << 2, minus 4: q2 - 4 without the high bit, q2 with it.
                let valuesA = ((qsA &>> shift) & 3) | (bit(hmaskA, hbit) &<< 2)
                let valuesB = ((qsB &>> shift) & 3) | (bit(hmaskB, hbit) &<< 2)
                store(scales[subBlock] * floats(valuesA, minus: 4), output, index)
                store(scales[subBlock + 1] * floats(valuesB, minus: 4), output, index + 16)
            }
            group(0, 0); group(0, 1); group(0, 2); group(0, 3)
            group(1, 0); group(1, 1); group(1, 2); group(1, 3)
        }
    }

    /// The eight 6-bit scales and mins of a Q4_K/Q5_K block, from its 12 packed bytes at `offset`:
    /// sub-blocks 0-3 use the low 6 bits of bytes 0-3 (scale) and 4-7 (min); sub-blocks 4-7 take
    /// their low 4 bits from byte 8-11's low (scale) / high (min) nibble and their top 2 bits from
    /// the spare top bits of bytes 0-3 (scale) / 4-7 (min).
    @inline(__always)
    static func scalesAndMins6(_ base: UnsafeRawPointer, _ offset: Int) -> (scales: SIMD8<UInt8>, mins: SIMD8<UInt8>) {
        let scaleBytes = base.loadUnaligned(fromByteOffset: offset, as: SIMD4<UInt8>.self)
        let minBytes = base.loadUnaligned(fromByteOffset: offset + 4, as: SIMD4<UInt8>.self)
        let sharedBytes = base.loadUnaligned(fromByteOffset: offset + 8, as: SIMD4<UInt8>.self)
        let scales = SIMD8(
            lowHalf: scaleBytes & 63,
            highHalf: (sharedBytes & 0x0F) | ((scaleBytes &>> 6) &<< 4))
        let mins = SIMD8(
            lowHalf: minBytes & 63,
            highHalf: (sharedBytes &>> 4) | ((minBytes &>> 6) &<< 4))
        return (scales, mins)
    }

    // block_q4_K (144 bytes / 256 elements): d f16 @0, dmin f16 @2, scales[12] @4, qs[128] @16.
    // Eight 32-element sub-blocks with 6-bit scale and min (`scalesAndMins6`).
    // Element 64p + l (p < 4, l < 32) = low nibble of qs[32p + l], sub-block 2p;
    // element 64p + 32 + l = its high nibble, sub-block 2p + 1.
    // x = (d * scale) * q - (dmin * min)
    static func expandQ4K(_ source: UnsafeRawPointer, _ blocks: Int, _ destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let base = source + block * 144
            let output = destination + block * 256
            let d = half(base, 0)
            let dmin = half(base, 2)
            let packed = scalesAndMins6(base, 4)
            let scales = d * floats(packed.scales) // [8] per sub-block
            let mins = dmin * floats(packed.mins) // [8]
            @inline(__always)
            func pair(_ p: Int) {
                let qsA = bytes16(base, 16 + 32 * p) // l in 0..<16
                let qsB = bytes16(base, 32 + 32 * p) // l in 16..<32
                let index = 64 * p
                let lowScale = scales[2 * p], lowMin = mins[2 * p]
                let highScale = scales[2 * p + 1], highMin = mins[2 * p + 1]
                store(lowScale * floats(qsA & 0x0F) - lowMin, output, index)
                store(lowScale * floats(qsB & 0x0F) - lowMin, output, index + 16)
                store(highScale * floats(qsA &>> 4) - highMin, output, index + 32)
                store(highScale * floats(qsB &>> 4) - highMin, output, index + 48)
            }
            pair(0); pair(1); pair(2); pair(3)
        }
    }

    // block_q5_K (176 bytes / 256 elements): d f16 @0, dmin f16 @2, scales[12] @4, qh[32] @16, qs[128] @48.
    // As Q4_K, plus a fifth bit: element 64p + l takes bit 2p of qh[l], element 64p + 32 + l bit 2p + 1.
    // x = (d * scale) * (nibble + 16 * bit) - (dmin * min)
    static func expandQ5K(_ source: UnsafeRawPointer, _ blocks: Int, _ destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let base = source + block * 176
            let output = destination + block * 256
            let d = half(base, 0)
            let dmin = half(base, 2)
            let packed = scalesAndMins6(base, 4)
            let scales = d * floats(packed.scales) // [8] per sub-block
            let mins = dmin * floats(packed.mins) // [8]
            let qhA = bytes16(base, 16) // l in 0..<16
            let qhB = bytes16(base, 32) // l in 16..<32
            @inline(__always)
            func pair(_ p: Int) {
                let qsA = bytes16(base, 48 + 32 * p) // l in 0..<16
                let qsB = bytes16(base, 64 + 32 * p) // l in 16..<32
                let index = 64 * p
                let lowBit = UInt8(2 * p), highBit = UInt8(2 * p + 1)
                let lowScale = scales[2 * p], lowMin = mins[2 * p]
                let highScale = scales[2 * p + 1], highMin = mins[2 * p + 1]
                store(lowScale * floats((qsA & 0x0F) | (bit(qhA, lowBit) &<< 4)) - lowMin, output, index)
                store(lowScale * floats((qsB & 0x0F) | (bit(qhB, lowBit) &<< 4)) - lowMin, output, index + 16)
                store(highScale * floats((qsA &>> 4) | (bit(qhA, highBit) &<< 4)) - highMin, output, index + 32)
                store(highScale * floats((qsB &>> 4) | (bit(qhB, highBit) &<< 4)) - highMin, output, index + 48)
            }
            pair(0); pair(1); pair(2); pair(3)
        }
    }

    // block_q6_K (210 bytes / 256 elements): ql[128] @0, qh[64] @128, scales[16] i8 @192, d f16 @208.
    // Two halves h < 2 of 128 elements; in half h, for l < 32 (ql at 64h, qh at 32h):
    //   element 128h + l      = low nibble of ql[l]       | bits 0-1 of qh[l] << 4
    //   element 128h + 32 + l = low nibble of ql[l + 32]  | bits 2-3 of qh[l] << 4
    //   element 128h + 64 + l = high nibble of ql[l]      | bits 4-5 of qh[l] << 4
    //   element 128h + 96 + l = high nibble of ql[l + 32] | bits 6-7 of qh[l] << 4
    // 16-element sub-blocks: element e uses scales[e / 16].
    // x = (d * scale) * (q6 - 32)
    static func expandQ6K(_ source: UnsafeRawPointer, _ blocks: Int, _ destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let base = source + block * 210
            let output = destination + block * 256
            let d = half(base, 208)
            let scales = d * signedFloats(bytes16(base, 192)) // [16] per sub-block
            @inline(__always)
            func group(_ h: Int, _ half16: Int) { // l in 16 * half16 ..< 16 * half16 + 16
                let offset = 16 * half16
                let qlA = bytes16(base, 64 * h + offset) // ql[l]
                let qlB = bytes16(base, 64 * h + 32 + offset) // ql[l + 32]
                let qh = bytes16(base, 128 + 32 * h + offset)
                let index = 128 * h + offset
                let subBlock = 8 * h + half16
                let q0 = (qlA & 0x0F) | ((qh & 0x03) &<< 4)
                let q1 = (qlB & 0x0F) | ((qh & 0x0C) &<< 2)
                let q2 = (qlA &>> 4) | (qh & 0x30)
                let q3 = (qlB &>> 4) | ((qh & 0xC0) &>> 2)
                store(scales[subBlock] * floats(q0, minus: 32), output, index)
                store(scales[subBlock + 2] * floats(q1, minus: 32), output, index + 32)
                store(scales[subBlock + 4] * floats(q2, minus: 32), output, index + 64)
                store(scales[subBlock + 6] * floats(q3, minus: 32), output, index + 96)
            }
            group(0, 0); group(0, 1); group(1, 0); group(1, 1)
        }
    }

    // block_q8_K (292 bytes / 256 elements): d f32 @0, qs[256] i8 @4, bsums[16] i16 @260 (unused here).
    // x = d * q
    static func expandQ8K(_ source: UnsafeRawPointer, _ blocks: Int, _ destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let base = source + block * 292
            let output = destination + block * 256
            let d = base.loadUnaligned(fromByteOffset: 0, as: Float.self)
            for group in 0..<16 {
                store(d * signedFloats(bytes16(base, 4 + 16 * group)), output, 16 * group)
            }
        }
    }
}
