/// A weight on the GPU: a row-major `[rows, columns]` matrix (or a `[1, n]` vector) of one
/// element type. Vectors (norms, biases) are always fp32.
public final class CUDAWeight: @unchecked Sendable {
    /// The device memory.
    public let buffer: DeviceBuffer
    public let rows: Int
    public let columns: Int
    /// Stored element type.
    public let elementType: DeviceElementType
    /// For fp32 vectors: a bf16 copy, for epilogues of bf16 products (cuBLASLt wants the bias in
    /// the output's type). Nil for matrices.
    public let bf16Copy: DeviceBuffer?

    init(buffer: DeviceBuffer, rows: Int, columns: Int, elementType: DeviceElementType, bf16Copy: DeviceBuffer? = nil) {
        self.buffer = buffer
        self.rows = rows
        self.columns = columns
        self.elementType = elementType
        self.bf16Copy = bf16Copy
    }
}
