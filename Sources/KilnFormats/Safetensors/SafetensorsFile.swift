import Foundation
import KilnCore

/// One memory-mapped safetensors file.
///
/// Layout: a little-endian u64 N, N bytes of JSON header
/// (`{"name": {"dtype": "BF16", "shape": [r, c], "data_offsets": [begin, end]}, "__metadata__": {...}}`),
/// then the data; offsets are relative to the end of the header. The header is validated
/// entirely (dtype known, offsets inside the file, size matching shape and dtype) on open.
public final class SafetensorsFile: @unchecked Sendable {
    /// Largest header accepted (the format's own limit is 100 MB).
    public static let maximumHeaderSize = 100_000_000

    /// The mapped file.
    public let file: MappedFile
    /// Tensors by name.
    public let tensors: [String: SafetensorsTensorInfo]
    /// Tensor names in the order of their data in the file.
    public let tensorNames: [String]
    /// The free-form `__metadata__` entries.
    public let metadata: [String: String]

    /// The path the file was read from.
    public var path: String { file.path }

    /// Maps and indexes `path`.
    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    /// Indexes an already mapped file.
    public init(file: MappedFile) throws {
        self.file = file
        let path = file.path
        var reader = ByteReader(bytes: file.bytes, path: path)
        let headerSize = try reader.read(UInt64.self, "safetensors header size")
        guard headerSize >= 2, headerSize <= UInt64(Self.maximumHeaderSize) else {
            throw KilnError.invalidFile(path: path, reason: "not a safetensors file: header size \(headerSize) (expected 2...\(Self.maximumHeaderSize) bytes)")
        }
        guard headerSize <= UInt64(file.count - 8) else {
            throw KilnError.invalidFile(path: path, reason: "truncated: header of \(headerSize) bytes but the file has \(file.count - 8) after the size field")
        }
        let headerBytes = try file.slice(offset: 8, length: Int(headerSize), what: "safetensors header")
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(headerBytes), options: [])
        } catch {
            throw KilnError.invalidFile(path: path, reason: "safetensors header is not valid JSON")
        }
        guard let entries = json as? [String: Any] else {
            throw KilnError.invalidFile(path: path, reason: "safetensors header is not a JSON object")
        }
        let dataStart = 8 + Int(headerSize)
        let dataLength = file.count - dataStart
        var tensors: [String: SafetensorsTensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, entry) in entries {
            if name == "__metadata__" {
                if let values = entry as? [String: Any] {
                    for (key, value) in values { metadata[key] = value as? String ?? "\(value)" }
                }
                continue
            }
            tensors[name] = try Self.parseEntry(name: name, entry: entry, path: path, dataStart: dataStart, dataLength: dataLength)
        }
        self.tensors = tensors
        self.tensorNames = tensors.values.sorted { $0.fileOffset < $1.fileOffset }.map(\.name)
        self.metadata = metadata
    }

    private static func parseEntry(name: String, entry: Any, path: String, dataStart: Int, dataLength: Int) throws -> SafetensorsTensorInfo {
        guard let fields = entry as? [String: Any] else {
            throw KilnError.invalidFile(path: path, reason: "tensor '\(name)': header entry is not an object")
        }
        guard let dtypeName = fields["dtype"] as? String else {
            throw KilnError.invalidFile(path: path, reason: "tensor '\(name)': missing dtype")
        }
        guard let dtype = DType(safetensorsName: dtypeName) else {
            throw KilnError.unsupported(path: path, reason: "tensor '\(name)' has unknown dtype '\(dtypeName)'")
        }
        guard let shapeValues = fields["shape"] as? [Any], let shape = integers(shapeValues), shape.allSatisfy({ $0 >= 0 }) else {
            throw KilnError.invalidFile(path: path, reason: "tensor '\(name)': shape must be a list of non-negative integers")
        }
        guard let offsetValues = fields["data_offsets"] as? [Any], let offsets = integers(offsetValues), offsets.count == 2 else {
            throw KilnError.invalidFile(path: path, reason: "tensor '\(name)': data_offsets must be two integers")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin >= 0, begin <= end, end <= dataLength else {
            throw KilnError.invalidFile(path: path, reason: "tensor '\(name)' at data offsets \(begin)..<\(end) is out of bounds (data section is \(dataLength) bytes)")
        }
        var elements = 1
        for size in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow else {
                throw KilnError.invalidFile(path: path, reason: "tensor '\(name)': shape \(shape) overflows")
            }
            elements = product
        }
        let (expected, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, expected == end - begin else {
            throw KilnError.invalidFile(path: path, reason: "tensor '\(name)': \(end - begin) bytes stored but shape \(shape) of \(dtypeName) needs \(expected)")
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, fileOffset: dataStart + begin, byteCount: end - begin)
    }

    /// JSON numbers as exact `Int`s; nil if any is not a whole number.
    private static func integers(_ values: [Any]) -> [Int]? {
        var result: [Int] = []
        for value in values {
            guard let number = value as? NSNumber else { return nil }
            let double = number.doubleValue
            guard double == double.rounded(), abs(double) < 9e15 else { return nil }
            result.append(number.intValue)
        }
        return result
    }

    /// The raw bytes of a tensor.
    public func data(of tensor: SafetensorsTensorInfo) throws -> UnsafeRawBufferPointer {
        try file.slice(offset: tensor.fileOffset, length: tensor.byteCount, what: "data of tensor '\(tensor.name)'")
    }
}
