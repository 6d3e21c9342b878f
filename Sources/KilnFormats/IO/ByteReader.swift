import KilnCore

/// A bounds-checked little-endian cursor over mapped bytes. Every read that would pass the end
/// throws an `invalidFile` error that says what was being read and where, so a truncated or
/// corrupted header is an error message, never a crash.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    /// Offset of the next byte to read.
    var offset: Int = 0

    init(bytes: UnsafeRawBufferPointer, path: String, offset: Int = 0) {
        self.bytes = bytes
        self.path = path
        self.offset = offset
    }

    func truncated(_ what: String, needing length: Int) -> KilnError {
        .invalidFile(path: path, reason: "truncated: \(what) needs \(length) bytes at offset \(offset), file has \(bytes.count)")
    }

    mutating func read<T: FixedWidthInteger>(_ type: T.Type, _ what: String) throws -> T {
        let size = MemoryLayout<T>.size
        guard offset <= bytes.count - size else { throw truncated(what, needing: size) }
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: value)
    }

    mutating func readFloat(_ what: String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, what))
    }

    mutating func readDouble(_ what: String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, what))
    }

    /// Reads `length` raw bytes as UTF-8 (invalid sequences are repaired, as llama.cpp tolerates them).
    mutating func readString(length: Int, _ what: String) throws -> String {
        guard length >= 0, offset <= bytes.count - length else { throw truncated(what, needing: length) }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
        offset += length
        return String(decoding: slice, as: UTF8.self)
    }
}
