import Foundation

/// How much of a feed-forward weight the CUDA backend brings into L2 during a layer's attention,
/// and when (l2_prefetch.cu). At batch 1 the chain qkv -> decode attention -> reduce -> o -> norm
/// is bound by latency (~20 us a Gemma-2B layer on an H100) while memory idles; the gate/up
/// product that follows streams 134 MB. Prefetching its first rows into L2 meanwhile lets it
/// start from L2.
public struct L2PrefetchPlan: Equatable, Sendable {
    /// Where in the attention chain the prefetch kernel is queued (it issues its prefetches once
    /// the kernel before it has finished).
    public enum Point: String, Sendable, CaseIterable {
        /// Before the Q/K/V product.
        case beforeQKV = "qkv"
        /// After the Q/K/V product, before the decode attention kernel.
        case afterQKV = "attention"
        /// After the decode attention kernel, before its reduce.
        case afterAttention = "reduce"
        /// After the reduce, before the output projection.
        case afterReduce = "o"
    }

    /// Bytes of the weight to prefetch, at most (in reading order).
    public var bytes: Int
    public var point: Point
    /// Bytes a prefetch instruction covers (a multiple of 16).
    public var chunkBytes: Int
    /// Products of at most this many rows (the GEMV kernels read gate/up tiles in row order; larger
    /// batches take other kernels whose order differs).
    public var maximumRows: Int

    public init(bytes: Int, point: Point, chunkBytes: Int = 32 * 1024, maximumRows: Int = 8) {
        self.bytes = bytes
        self.point = point
        self.chunkBytes = max(16, chunkBytes / 16 * 16)
        self.maximumRows = maximumRows
    }

    /// The default for a GPU with `l2Bytes` of L2: half of it, after the Q/K/V product.
    /// `KILN_L2_PREFETCH` = megabytes (0 turns it off), `KILN_L2_PREFETCH_AT` = qkv | attention |
    /// reduce | o, `KILN_L2_PREFETCH_CHUNK` = bytes an instruction, `KILN_L2_PREFETCH_ROWS` = most
    /// rows (for measurements).
    public static func fromEnvironment(_ environment: [String: String], l2Bytes: Int) -> L2PrefetchPlan? {
        var plan = L2PrefetchPlan(bytes: l2Bytes / 2, point: .afterQKV)
        if let text = environment["KILN_L2_PREFETCH"], let megabytes = Double(text) {
            guard megabytes > 0 else { return nil }
            plan.bytes = Int(megabytes * 1_048_576)
        }
        if let text = environment["KILN_L2_PREFETCH_AT"], let point = Point(rawValue: text) { plan.point = point }
        if let text = environment["KILN_L2_PREFETCH_CHUNK"], let chunk = Int(text), chunk >= 16 { plan.chunkBytes = chunk / 16 * 16 }
        if let text = environment["KILN_L2_PREFETCH_ROWS"], let rows = Int(text), rows >= 1 { plan.maximumRows = rows }
        return plan.bytes > 0 ? plan : nil
    }

    /// Byte ranges (offsets into the weight) holding the first `bytes` a product reads of a
    /// row-major `[rows, rowBytes]` weight: its first rows, or for a gated `[2 * mlp, ...]`
    /// weight (gate rows, then up rows; tile t of the GEMV reads gate rows 8t... and up rows
    /// mlp + 8t... together) the first rows of each half. Offsets and sizes are multiples of
    /// `rowBytes`; empty ranges are left out.
    public func ranges(rows: Int, rowBytes: Int, gated: Bool) -> [Range<Int>] {
        guard rows > 0, rowBytes > 0 else { return [] }
        if gated {
            let mlp = rows / 2
            let taken = min(mlp, bytes / (2 * rowBytes))
            guard taken > 0 else { return [] }
            return [0..<taken * rowBytes, mlp * rowBytes..<(mlp + taken) * rowBytes]
        }
        let taken = min(rows, bytes / rowBytes)
        return taken > 0 ? [0..<taken * rowBytes] : []
    }
}
