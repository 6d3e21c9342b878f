#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnCore

/// A read-only memory map of a whole file. Pages are loaded on first touch, so opening a 1 GB
/// checkpoint costs one `mmap` call, not a read of the file.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from (used in every error message).
    public let path: String
    /// Size of the file in bytes.
    public let count: Int
    /// Start of the mapping; nil for an empty file.
    private let base: UnsafeRawPointer?

    /// Maps `path` read-only. Throws `missingFile` when it cannot be opened.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw KilnError.missingFile(path: path, reason: "cannot open (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw KilnError.invalidFile(path: path, reason: "cannot stat (\(String(cString: strerror(errno))))")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw KilnError.invalidFile(path: path, reason: "is a directory, expected a file")
        }
        count = Int(info.st_size)
        if count == 0 {
            base = nil
            return
        }
        let pointer = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let pointer, pointer != MAP_FAILED else {
            throw KilnError.invalidFile(path: path, reason: "cannot mmap (\(String(cString: strerror(errno))))")
        }
        base = UnsafeRawPointer(pointer)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// The mapped bytes. Valid for the lifetime of this object.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: count)
    }

    /// Bytes `[offset, offset + length)`, or an `invalidFile` error naming `what` when out of bounds.
    public func slice(offset: Int, length: Int, what: String) throws -> UnsafeRawBufferPointer {
        guard offset >= 0, length >= 0, offset <= count, length <= count - offset else {
            throw KilnError.invalidFile(
                path: path,
                reason: "\(what) at bytes \(offset)..<\(offset &+ length) is out of bounds (file is \(count) bytes)")
        }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
    }
}
