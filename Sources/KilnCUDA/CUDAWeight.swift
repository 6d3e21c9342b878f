/// A weight on the GPU: a row-major `[rows, columns]` matrix (or a `[1, n]` vector) of one
/// element type. Vectors (norms, biases) are always fp32.
public final class CUDAWeight: @unchecked Sendable {
    /// The device memory.
    public let buffer: DeviceBuffer
    public let rows: Int
    public let columns: Int
    /// Stored element type.
    public let elementType: DeviceElementType

    init(buffer: DeviceBuffer, rows: Int, columns: Int, elementType: DeviceElementType) {
        self.buffer = buffer
        self.rows = rows
        self.columns = columns
        self.elementType = elementType
    }
}
