import KilnCore

/// A GGUF (v2/v3) file, memory-mapped: metadata, tensor index and tensor data.
///
/// Layout: magic "GGUF", version u32, tensor count u64, metadata count u64, metadata
/// key/values, tensor infos (name, n_dims u32, dims u64[n], type u32, offset u64), padding to
/// `general.alignment` (default 32), then the data section. Every count and offset is checked
/// against the file size before use, so a corrupted header is a clear error, not a crash or a
/// multi-gigabyte allocation.
public final class GGUFFile: @unchecked Sendable {
    /// The mapped file.
    public let file: MappedFile
    /// Format version (2 or 3).
    public let version: Int
    /// Metadata in file order of keys (`metadataKeys`) and by key.
    public let metadata: [String: GGUFValue]
    /// Metadata keys in the order they appear in the file.
    public let metadataKeys: [String]
    /// Tensor index in file order.
    public let tensors: [GGUFTensorInfo]
    /// Tensor index by name.
    public let tensorsByName: [String: GGUFTensorInfo]
    /// Alignment of tensor data in bytes.
    public let alignment: Int
    /// Absolute offset of the data section.
    public let dataOffset: Int

    /// The path the file was read from.
    public var path: String { file.path }

    /// Opens and indexes `path`. Reads only the header; tensor data stays unmapped until touched.
    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    /// Indexes an already mapped file.
    public init(file: MappedFile) throws {
        self.file = file
        let path = file.path
        var reader = ByteReader(bytes: file.bytes, path: path)
        guard file.count >= 4 else {
            throw KilnError.invalidFile(path: path, reason: "not a GGUF file: \(file.count) bytes, too short for the magic")
        }
        let magic = try reader.read(UInt32.self, "magic")
        guard magic == 0x4655_4747 else { // "GGUF" little-endian
            throw KilnError.invalidFile(path: path, reason: "not a GGUF file: bad magic 0x\(String(magic, radix: 16)) (expected \"GGUF\")")
        }
        let version = Int(try reader.read(UInt32.self, "version"))
        guard version == 2 || version == 3 else {
            throw KilnError.unsupported(path: path, reason: "GGUF version \(version) (Kiln reads versions 2 and 3)")
        }
        self.version = version
        let tensorCount = try reader.read(UInt64.self, "tensor count")
        let metadataCount = try reader.read(UInt64.self, "metadata count")
        // Each metadata entry takes at least 12 bytes (key length + type), each tensor info at
        // least 24: bounding the counts by the file size rejects bit-flipped counts up front.
        guard metadataCount <= UInt64(file.count / 12), tensorCount <= UInt64(file.count / 24) else {
            throw KilnError.invalidFile(path: path, reason: "corrupt header: \(tensorCount) tensors and \(metadataCount) metadata entries cannot fit in \(file.count) bytes")
        }

        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        metadata.reserveCapacity(Int(metadataCount))
        for index in 0..<Int(metadataCount) {
            let key = try reader.readGGUFString("metadata key #\(index)")
            let typeID = try reader.read(UInt32.self, "type of metadata '\(key)'")
            let value = try reader.readGGUFValue(typeID: typeID, key: key, depth: 0)
            if metadata.updateValue(value, forKey: key) == nil { keys.append(key) }
        }
        self.metadata = metadata
        self.metadataKeys = keys

        var alignment = 32
        if let value = metadata["general.alignment"] {
            guard let requested = value.intValue, requested > 0, requested & (requested - 1) == 0 else {
                throw KilnError.invalidFile(path: path, reason: "general.alignment must be a power of two, got \(value.summary)")
            }
            alignment = requested
        }
        self.alignment = alignment

        struct RawInfo { let name: String; let dimensions: [Int]; let type: GGMLType; let offset: UInt64 }
        var raw: [RawInfo] = []
        raw.reserveCapacity(Int(tensorCount))
        for index in 0..<Int(tensorCount) {
            let name = try reader.readGGUFString("name of tensor #\(index)")
            let rank = try reader.read(UInt32.self, "rank of tensor '\(name)'")
            guard rank >= 1, rank <= 8 else {
                throw KilnError.invalidFile(path: path, reason: "tensor '\(name)' has rank \(rank) (expected 1...8)")
            }
            var dimensions: [Int] = []
            for axis in 0..<Int(rank) {
                let size = try reader.read(UInt64.self, "dimension \(axis) of tensor '\(name)'")
                guard size >= 1, size <= UInt64(Int32.max) * 64 else {
                    throw KilnError.invalidFile(path: path, reason: "tensor '\(name)' has dimension \(axis) of size \(size)")
                }
                dimensions.append(Int(size))
            }
            let typeID = try reader.read(UInt32.self, "type of tensor '\(name)'")
            guard let type = GGMLType(rawValue: typeID) else {
                throw KilnError.unsupported(path: path, reason: "tensor '\(name)' has unknown ggml type \(typeID)")
            }
            let offset = try reader.read(UInt64.self, "offset of tensor '\(name)'")
            raw.append(RawInfo(name: name, dimensions: dimensions, type: type, offset: offset))
        }

        let dataOffset = (reader.offset + alignment - 1) / alignment * alignment
        self.dataOffset = dataOffset
        var tensors: [GGUFTensorInfo] = []
        var byName: [String: GGUFTensorInfo] = [:]
        tensors.reserveCapacity(raw.count)
        for info in raw {
            let (elements, overflow) = info.dimensions.reduce((1, false)) { partial, size in
                let (product, overflowed) = partial.0.multipliedReportingOverflow(by: size)
                return (product, partial.1 || overflowed)
            }
            guard !overflow, let byteCount = info.type.byteCount(elements: elements) else {
                throw KilnError.invalidFile(path: path, reason: "tensor '\(info.name)' of shape \(info.dimensions) is not a whole number of \(info.type.name) blocks of \(info.type.blockSize)")
            }
            guard info.offset % UInt64(alignment) == 0 else {
                throw KilnError.invalidFile(path: path, reason: "tensor '\(info.name)' data offset \(info.offset) is not aligned to \(alignment)")
            }
            guard info.offset <= UInt64(file.count), dataOffset + Int(info.offset) <= file.count - byteCount else {
                throw KilnError.invalidFile(path: path, reason: "tensor '\(info.name)' (\(byteCount) bytes at data offset \(info.offset)) is out of bounds: file is \(file.count) bytes, data starts at \(dataOffset)")
            }
            let tensor = GGUFTensorInfo(name: info.name, dimensions: info.dimensions, type: info.type,
                                        fileOffset: dataOffset + Int(info.offset), byteCount: byteCount)
            guard byName.updateValue(tensor, forKey: info.name) == nil else {
                throw KilnError.invalidFile(path: path, reason: "duplicate tensor name '\(info.name)'")
            }
            tensors.append(tensor)
        }
        self.tensors = tensors
        self.tensorsByName = byName
    }

    /// `general.architecture` ("llama", "qwen2", "gemma3", ...).
    public var architecture: String? { metadata["general.architecture"]?.stringValue }

    /// The raw stored bytes of a tensor.
    public func data(of tensor: GGUFTensorInfo) throws -> UnsafeRawBufferPointer {
        try file.slice(offset: tensor.fileOffset, length: tensor.byteCount, what: "data of tensor '\(tensor.name)'")
    }

    /// The tensor dequantised to fp32, in its stored (row-major over `rowMajorShape`) order.
    public func dequantized(_ tensor: GGUFTensorInfo) throws -> [Float] {
        let source = try data(of: tensor)
        guard tensor.type.canDequantize else {
            throw KilnError.unsupported(path: path, reason: "tensor '\(tensor.name)' has type \(tensor.type.name), which Kiln cannot dequantise")
        }
        let count = tensor.elementCount
        return try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            try GGMLDequantizer.dequantizeParallel(tensor.type, from: source.baseAddress!, count: count, into: buffer.baseAddress!)
            initialized = count
        }
    }
}
