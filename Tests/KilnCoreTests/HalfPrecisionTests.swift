import Testing
@testable import KilnCore

@Suite struct HalfPrecisionTests {
    @Test func f16MatchesFloat16ForEveryPattern() {
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let actual = HalfPrecision.f16ToFloat(bits)
            if expected.isNaN { #expect(actual.isNaN) } else { #expect(actual == expected, "bits \(bits)") }
        }
    }

    @Test func bf16RoundTripsAndRoundsToNearestEven() {
        #expect(HalfPrecision.bf16ToFloat(0x3F80) == 1)
        #expect(HalfPrecision.floatToBF16(1) == 0x3F80)
        // 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: ties to even (1).
        #expect(HalfPrecision.floatToBF16(1 + 1.0 / 256) == 0x3F80)
        #expect(HalfPrecision.floatToBF16(1 + 3.0 / 256) == 0x3F82)
        #expect(HalfPrecision.bf16ToFloat(HalfPrecision.floatToBF16(.nan)).isNaN)
    }

    @Test func fp8Encodings() {
        #expect(HalfPrecision.f8e4m3ToFloat(0x38) == 1)
        #expect(HalfPrecision.f8e4m3ToFloat(0x7E) == 448) // largest finite E4M3FN
        #expect(HalfPrecision.f8e4m3ToFloat(0x01) == 1.0 / 512) // smallest subnormal
        #expect(HalfPrecision.f8e4m3ToFloat(0xFF).isNaN)
        #expect(HalfPrecision.f8e5m2ToFloat(0x3C) == 1)
        #expect(HalfPrecision.f8e5m2ToFloat(0x7C) == .infinity)
    }

    @Test func denseConversionReadsUnalignedData() {
        let bytes: [UInt8] = [0xAA, 0x00, 0x00, 0x80, 0x3F] // one junk byte, then f32 1.0
        let values = bytes.withUnsafeBytes { raw in
            DenseConversion.floats(from: UnsafeRawBufferPointer(rebasing: raw[1...]), dtype: .f32, count: 1)
        }
        #expect(values == [1])
    }
}

@Suite struct SHA256Tests {
    @Test func knownVectors() {
        var empty = SHA256()
        #expect(empty.finalizeHex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var abc = SHA256()
        abc.update(Array("abc".utf8))
        #expect(abc.finalizeHex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // Fed in uneven pieces across block boundaries.
        let text = Array(String(repeating: "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", count: 3).utf8)
        var whole = SHA256(), pieces = SHA256()
        whole.update(text)
        var offset = 0
        for size in [1, 63, 2, 64, 7] + Array(repeating: 5, count: 40) where offset < text.count {
            let end = min(text.count, offset + size)
            pieces.update(Array(text[offset..<end]))
            offset = end
        }
        if offset < text.count { pieces.update(Array(text[offset...])) }
        #expect(whole.finalizeHex() == pieces.finalizeHex())
    }
}
