import Foundation
import KilnCore

/// Writes a safetensors file: the header JSON (keys sorted, padded with spaces to a multiple of
/// 8 bytes so the data starts aligned), then each tensor's bytes in header order.
/// Used by `kiln build` for engines and by tests for fixtures.
public struct SafetensorsWriter {
    /// One tensor to write.
    public struct Entry {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public let bytes: [UInt8]

        /// A tensor of raw little-endian bytes (`bytes.count` must equal shape product * dtype size).
        public init(name: String, dtype: DType, shape: [Int], bytes: [UInt8]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        /// An fp32 tensor.
        public init(name: String, shape: [Int], floats: [Float]) {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(floats.count * 4)
            for value in floats { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
            self.init(name: name, dtype: .f32, shape: shape, bytes: bytes)
        }
    }

    /// The encoded file contents.
    public static func encode(_ entries: [Entry], metadata: [String: String] = [:]) throws -> [UInt8] {
        try encode(entries, metadata: metadata, headerOnly: false)
    }

    /// The size field and header; with `headerOnly` the entries' byte counts come from their
    /// shapes and their (empty) bytes are not appended.
    static func encode(_ entries: [Entry], metadata: [String: String], headerOnly: Bool) throws -> [UInt8] {
        let sorted = entries.sorted { $0.name < $1.name }
        var header = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            parts.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        var offset = 0
        for entry in sorted {
            let expected = entry.shape.reduce(1, *) * entry.dtype.byteSize
            guard headerOnly || expected == entry.bytes.count else {
                throw KilnError.invalidArgument("tensor '\(entry.name)': \(entry.bytes.count) bytes for shape \(entry.shape) of \(entry.dtype.safetensorsName) (expected \(expected))")
            }
            let shape = entry.shape.map(String.init).joined(separator: ",")
            parts.append("\(jsonString(entry.name)):{\"dtype\":\"\(entry.dtype.safetensorsName)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + expected)]}")
            offset += expected
        }
        header += parts.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var output: [UInt8] = []
        output.reserveCapacity(8 + headerBytes.count + (headerOnly ? 0 : offset))
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { output.append(contentsOf: $0) }
        output.append(contentsOf: headerBytes)
        if !headerOnly {
            for entry in sorted { output.append(contentsOf: entry.bytes) }
        }
        return output
    }

    /// Writes the file at `path`.
    public static func write(_ entries: [Entry], to path: String, metadata: [String: String] = [:]) throws {
        let bytes = try encode(entries, metadata: metadata)
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw KilnError.invalidFile(path: path, reason: "cannot write")
        }
    }

    private static func jsonString(_ text: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [text], options: [])
        let array = String(decoding: data, as: UTF8.self)
        return String(array.dropFirst().dropLast())
    }
}
