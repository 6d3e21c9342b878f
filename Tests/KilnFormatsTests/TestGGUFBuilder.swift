/// Builds small GGUF files in memory for tests: a few metadata kinds and F32/Q8_0 tensors.
struct TestGGUFBuilder {
    var bytes: [UInt8] = []

    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func f32(_ value: Float) { u32(value.bitPattern) }
    mutating func string(_ text: String) { u64(UInt64(text.utf8.count)); bytes.append(contentsOf: text.utf8) }

    /// A valid v3 file: architecture "llama" with a tiny config, a string array, two tensors
    /// (`a`: F32 [4, 2], `b`: Q8_0 [32]), data aligned to 32.
    static func sample() -> [UInt8] {
        var b = TestGGUFBuilder()
        b.u32(0x4655_4747); b.u32(3)
        b.u64(2) // tensors
        b.u64(6) // metadata entries
        b.string("general.architecture"); b.u32(8); b.string("llama")
        b.string("llama.block_count"); b.u32(4); b.u32(2)
        b.string("llama.embedding_length"); b.u32(4); b.u32(8)
        b.string("llama.rope.freq_base"); b.u32(6); b.f32(10_000)
        b.string("tokenizer.ggml.tokens"); b.u32(9); b.u32(8); b.u64(3)
        b.string("a"); b.string("b"); b.string("ç")
        b.string("tokenizer.ggml.scores"); b.u32(9); b.u32(6); b.u64(3)
        b.f32(0); b.f32(-1); b.f32(-2)
        // tensor infos
        b.string("a"); b.u32(2); b.u64(2); b.u64(4); b.u32(0); b.u64(0)
        b.string("b"); b.u32(1); b.u64(32); b.u32(8); b.u64(32)
        while b.bytes.count % 32 != 0 { b.bytes.append(0) }
        for index in 0..<8 { b.f32(Float(index)) } // 32 bytes of F32 data
        // one Q8_0 block: f16 scale 0.5 (0x3800), then 32 int8 values -16...15
        b.bytes.append(contentsOf: [0x00, 0x38])
        for value in -16..<16 { b.bytes.append(UInt8(bitPattern: Int8(value))) }
        return b.bytes
    }
}
