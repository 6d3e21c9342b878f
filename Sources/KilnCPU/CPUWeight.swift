import KilnBackend

/// A weight as the CPU backend uses it: either its checkpoint bytes, dequantised row by row
/// when used (so a 4-bit model stays 4-bit in memory), or an fp32 copy for small vectors.
public final class CPUWeight: @unchecked Sendable {
    /// The stored form; nil for host fp32 vectors.
    public let source: WeightSource?
    /// fp32 values for vectors (norms, biases) and dense fp32 matrices; nil when rows are decoded on use.
    public let floats: [Float]?
    /// Rows and columns of the row-major matrix (`[1, n]` for vectors).
    public let rows: Int
    public let columns: Int

    init(source: WeightSource) throws {
        self.source = source
        rows = source.rows
        columns = source.columns
        // 1-D weights are small and read every step: keep them as fp32.
        floats = source.shape.count == 1 ? try source.floats() : nil
    }

    init(values: [Float]) {
        source = nil
        floats = values
        rows = 1
        columns = values.count
    }

    /// Writes row `row` as fp32 into `destination` (`columns` floats).
    @inline(__always) func decodeRow(_ row: Int, into destination: UnsafeMutablePointer<Float>) {
        if let floats {
            floats.withUnsafeBufferPointer { buffer in
                destination.update(from: buffer.baseAddress! + row * columns, count: columns)
            }
        } else {
            source!.decodeRow(row, into: destination)
        }
    }
}
