/// One tensor of a GGUF file: where its bytes are and how to read them.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name as llama.cpp writes it ("blk.0.attn_q.weight").
    public let name: String
    /// Dimensions in ggml order: `dimensions[0]` is the contiguous (fastest) one, so a
    /// PyTorch `[rows, cols]` weight appears as `[cols, rows]`.
    public let dimensions: [Int]
    /// Storage type (dense or block-quantised).
    public let type: GGMLType
    /// Absolute offset of the first byte in the file.
    public let fileOffset: Int
    /// Size of the stored data in bytes.
    public let byteCount: Int

    /// Number of elements.
    public var elementCount: Int { dimensions.reduce(1, *) }

    /// The shape in PyTorch (row-major) order: outermost first.
    public var rowMajorShape: [Int] { dimensions.reversed() }
}
