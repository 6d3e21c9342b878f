/// An fp32 activation in host memory, row-major `[rows, columns]`.
public final class CPUTensor: @unchecked Sendable {
    /// Number of rows (tokens).
    public let rows: Int
    /// Elements per row.
    public let columns: Int
    /// `rows * columns` floats, zero-initialised.
    public let data: UnsafeMutablePointer<Float>

    /// Allocates a zeroed tensor.
    public init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        data = .allocate(capacity: max(rows * columns, 1))
        data.initialize(repeating: 0, count: max(rows * columns, 1))
    }

    deinit { data.deallocate() }

    /// Start of row `row`.
    @inline(__always) public func row(_ row: Int) -> UnsafeMutablePointer<Float> { data + row * columns }
}
