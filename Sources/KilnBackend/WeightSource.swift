import KilnCore
import KilnFormats

/// How a weight's bytes are stored in its checkpoint.
public enum WeightStorage: Sendable, Equatable {
    /// Dense elements of a dtype (safetensors, GGUF F32/F16/BF16).
    case dense(DType)
    /// ggml blocks (quantised with per-block scales, or dense F16/BF16/F32) along each row.
    case ggml(GGMLType)

    /// Bytes one row of `columns` elements takes, nil if `columns` is not a whole number of blocks.
    public func rowBytes(columns: Int) -> Int? {
        switch self {
        case let .dense(dtype): return columns * dtype.byteSize
        case let .ggml(type): return type.byteCount(elements: columns)
        }
    }

    /// "BF16", "Q4_K", ...
    public var name: String {
        switch self {
        case let .dense(dtype): return dtype.safetensorsName
        case let .ggml(type): return type.name
        }
    }
}

/// A weight as the checkpoint stores it: row-major shape, storage type and bytes. The bytes
/// stay in the memory-mapped file; `owner` keeps that mapping alive for as long as this lives.
public struct WeightSource: @unchecked Sendable {
    /// Name in the checkpoint (for error messages).
    public let name: String
    /// Row-major shape, outermost first: `[out, in]` for a projection, `[n]` for a vector.
    public let shape: [Int]
    /// Storage of each row.
    public let storage: WeightStorage
    /// The stored bytes.
    public let bytes: UnsafeRawBufferPointer
    /// Keeps `bytes` valid (the mapped file).
    public let owner: AnyObject

    /// Creates a source; checks the byte count matches the shape and storage.
    public init(name: String, shape: [Int], storage: WeightStorage, bytes: UnsafeRawBufferPointer, owner: AnyObject) throws {
        let columns = shape.last ?? 1
        let rows = shape.dropLast().reduce(1, *)
        guard let rowBytes = storage.rowBytes(columns: columns), rowBytes * rows == bytes.count else {
            throw KilnError.invalidArgument("weight '\(name)': \(bytes.count) bytes do not hold shape \(shape) of \(storage.name)")
        }
        self.name = name
        self.shape = shape
        self.storage = storage
        self.bytes = bytes
        self.owner = owner
    }

    /// Rows (product of all but the last dimension).
    public var rows: Int { shape.dropLast().reduce(1, *) }
    /// Columns (the last, contiguous dimension).
    public var columns: Int { shape.last ?? 1 }

    /// Every element as fp32, row-major (dequantising quantised blocks).
    public func floats() throws -> [Float] {
        switch storage {
        case let .dense(dtype):
            return DenseConversion.floats(from: bytes, dtype: dtype, count: rows * columns)
        case let .ggml(type):
            let count = rows * columns
            return try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                try GGMLDequantizer.dequantizeParallel(type, from: bytes.baseAddress!, count: count, into: buffer.baseAddress!)
                initialized = count
            }
        }
    }

    /// Dequantises row `row` into `destination` (`columns` floats).
    public func decodeRow(_ row: Int, into destination: UnsafeMutablePointer<Float>) {
        let rowBytes = storage.rowBytes(columns: columns)!
        let start = bytes.baseAddress! + row * rowBytes
        switch storage {
        case let .dense(dtype):
            switch dtype {
            case .f32:
                for index in 0..<columns { destination[index] = Float(bitPattern: start.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)) }
            case .bf16:
                for index in 0..<columns { destination[index] = HalfPrecision.bf16ToFloat(start.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)) }
            case .f16:
                for index in 0..<columns { destination[index] = HalfPrecision.f16ToFloat(start.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)) }
            default:
                let values = DenseConversion.floats(from: UnsafeRawBufferPointer(start: start, count: rowBytes), dtype: dtype, count: columns)
                for index in 0..<columns { destination[index] = values[index] }
            }
        case let .ggml(type):
            // Validated at init: a row is a whole number of blocks of a dequantisable type.
            try! GGMLDequantizer.dequantize(type, from: start, count: columns, into: destination)
        }
    }
}
