import Foundation
import KilnCore

/// Writes a GGUF v3 file of metadata only (no tensors): how an engine keeps a GGUF source's
/// tokenizer (`tokenizer.ggml.*`, `tokenizer.chat_template`) without its weights.
public enum GGUFMetadataWriter {
    /// Encodes `entries` (in order) as a tensor-less GGUF.
    public static func encode(_ entries: [(key: String, value: GGUFValue)]) -> [UInt8] {
        var output: [UInt8] = []
        func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { output.append(contentsOf: $0) } }
        func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { output.append(contentsOf: $0) } }
        func string(_ text: String) { u64(UInt64(text.utf8.count)); output.append(contentsOf: text.utf8) }
        // Scalars are written in their widest kind: 10 u64, 11 i64, 12 f64, 7 bool, 8 string.
        func value(_ value: GGUFValue) {
            switch value {
            case let .uint(number): u32(10); u64(number)
            case let .int(number): u32(11); u64(UInt64(bitPattern: number))
            case let .float(number): u32(12); u64(number.bitPattern)
            case let .bool(flag): u32(7); output.append(flag ? 1 : 0)
            case let .string(text): u32(8); string(text)
            case let .array(array): u32(9); arrayBody(array)
            }
        }
        func arrayBody(_ array: GGUFArray) {
            switch array {
            case let .uints(values): u32(10); u64(UInt64(values.count)); values.forEach { u64($0) }
            case let .ints(values): u32(11); u64(UInt64(values.count)); values.forEach { u64(UInt64(bitPattern: $0)) }
            case let .floats(values): u32(12); u64(UInt64(values.count)); values.forEach { u64($0.bitPattern) }
            case let .bools(values): u32(7); u64(UInt64(values.count)); values.forEach { output.append($0 ? 1 : 0) }
            case let .strings(values): u32(8); u64(UInt64(values.count)); values.forEach { string($0) }
            case let .arrays(values): u32(9); u64(UInt64(values.count)); values.forEach { arrayBody($0) }
            }
        }
        u32(0x4655_4747) // "GGUF"
        u32(3)
        u64(0) // tensors
        u64(UInt64(entries.count))
        for entry in entries {
            string(entry.key)
            value(entry.value)
        }
        return output
    }

    /// Writes the tokenizer metadata of `file` (general.architecture, tokenizer.*) to `path`.
    public static func writeTokenizer(of file: GGUFFile, to path: String) throws {
        let keys = file.metadataKeys.filter { $0 == "general.architecture" || $0.hasPrefix("tokenizer.") }
        let bytes = encode(keys.map { ($0, file.metadata[$0]!) })
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw KilnError.invalidFile(path: path, reason: "cannot write")
        }
    }
}
