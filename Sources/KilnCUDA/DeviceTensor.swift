/// A device activation: row-major `[rows, columns]` of `elementType` in a `DeviceBuffer`.
public struct DeviceTensor: Sendable {
    /// The memory (at least `rows * columns` elements).
    public let buffer: DeviceBuffer
    /// Rows (tokens).
    public let rows: Int
    /// Elements per row.
    public let columns: Int
    /// Stored element type.
    public let elementType: DeviceElementType

    /// Wraps `buffer` as a `[rows, columns]` tensor.
    public init(buffer: DeviceBuffer, rows: Int, columns: Int, elementType: DeviceElementType) {
        precondition(rows >= 0 && columns >= 0 && buffer.byteCount >= rows * columns * elementType.byteSize,
                     "a \(buffer.byteCount)-byte buffer cannot hold [\(rows), \(columns)] of \(elementType)")
        self.buffer = buffer
        self.rows = rows
        self.columns = columns
        self.elementType = elementType
    }

    /// A new uninitialised tensor from `allocator`.
    public init(rows: Int, columns: Int, elementType: DeviceElementType, allocator: DeviceAllocator) throws {
        self.init(buffer: try allocator.allocate(byteCount: rows * columns * elementType.byteSize),
                  rows: rows, columns: columns, elementType: elementType)
    }

    /// rows * columns.
    public var count: Int { rows * columns }
    /// Bytes of the elements.
    public var byteCount: Int { count * elementType.byteSize }
}
