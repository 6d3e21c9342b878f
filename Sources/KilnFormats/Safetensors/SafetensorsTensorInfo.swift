import KilnCore

/// One tensor of a safetensors file: dtype, row-major shape, and where its bytes are.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    /// The tensor's name ("model.layers.0.self_attn.q_proj.weight").
    public let name: String
    /// Element type.
    public let dtype: DType
    /// Row-major shape, outermost first (PyTorch order). Empty for a scalar.
    public let shape: [Int]
    /// Absolute offset of the first byte in its file.
    public let fileOffset: Int
    /// Size in bytes (`shape.product * dtype.byteSize`).
    public let byteCount: Int

    /// Number of elements.
    public var elementCount: Int { shape.reduce(1, *) }
}
