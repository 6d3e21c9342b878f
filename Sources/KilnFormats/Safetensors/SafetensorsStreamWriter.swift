import Foundation
import KilnCore

/// Writes a safetensors file tensor by tensor, so multi-gigabyte engines never sit in memory
/// whole: the header (all names, dtypes, shapes, offsets) is fixed first, then each tensor's bytes
/// are produced and appended in header order.
public struct SafetensorsStreamWriter {
    /// A tensor's declaration; its bytes come later from `write`.
    public struct Declaration: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]

        /// Declares a tensor.
        public init(name: String, dtype: DType, shape: [Int]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }

        /// Bytes the tensor takes.
        public var byteCount: Int { shape.reduce(1, *) * dtype.byteSize }
    }

    /// Writes `declarations` to `path`, calling `bytes(index)` for each tensor's data in order.
    /// A wrong byte count from `bytes` is an error naming the tensor.
    public static func write(_ declarations: [Declaration], to path: String, metadata: [String: String] = [:],
                             bytes: (Int) throws -> [UInt8]) throws {
        let header = try SafetensorsWriter.encode(
            declarations.map { SafetensorsWriter.Entry(name: $0.name, dtype: $0.dtype, shape: $0.shape, bytes: []) },
            metadata: metadata, headerOnly: true)
        guard FileManager.default.createFile(atPath: path, contents: Data(header)) else {
            throw KilnError.invalidFile(path: path, reason: "cannot create")
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw KilnError.invalidFile(path: path, reason: "cannot open for writing")
        }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        // Tensors are written in the order of the header's offsets, which sorts by name.
        let order = declarations.indices.sorted { declarations[$0].name < declarations[$1].name }
        for index in order {
            let data = try bytes(index)
            guard data.count == declarations[index].byteCount else {
                throw KilnError.invalidArgument("tensor '\(declarations[index].name)': \(data.count) bytes produced, \(declarations[index].byteCount) declared")
            }
            handle.write(Data(data))
        }
    }
}
