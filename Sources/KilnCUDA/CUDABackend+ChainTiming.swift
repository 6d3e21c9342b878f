import Foundation
import KilnCore

/// Timing a candidate product as a decode step runs it: weights cold in L2, and the kernel before
/// it a short one that released it early under programmatic launch.
///
/// Why (H200, session 16): `timeAsInGraph` replays eight back-to-back runs of one product, so
/// from the second run on a product whose weights fit in L2 (qkv 10.5 MB, o 8.4 MB of Gemma-2B)
/// reads them from L2, and every run but the first follows a run of itself. Timed that way the
/// swapped kernels were within 1.8-2.2 µs of cuBLASLt on qkv and o at 64 rows, but put in the
/// step (with the LM head on a skinny kernel 13 µs slower) they cost ~10 µs a layer, not 4:
/// static batch 64 fell from ~26,800 to ~25,000 output tokens/s. In a step the weights of qkv
/// and o were last read a layer ago, behind 200 MB of MLP weights.
///
/// So each timed iteration here is three kernels: a read of twice the L2 size (plain launch: the
/// L2 then holds none of the product's bytes and no kernel overlaps the product), a copy of x's
/// rows from a saved copy into x itself (gather_rows, a small kernel that waits for its
/// prerequisites and releases its dependents as add_rms_norm does before qkv and gate/up), then
/// the product. The figure is (eight such iterations − eight without the product) / 8, each the
/// fastest of five replays of its CUDA graph: the product's cost in the chain, hand-off included,
/// so a library kernel pays its plain hand-off and a Kiln kernel gains its early start.
extension CUDABackend {
    /// `KILN_SKINNY_TIMING=hot` times the skinny candidates the way before session 16 did
    /// (`timeAsInGraph`: back to back, L2 warm), for A/B runs of the decision rule; anything
    /// else, or unset, times them in the chain (`timeInChain`). Part of the decisions' record key.
    static let skinnyChainTimingSetting: Bool = ProcessInfo.processInfo.environment["KILN_SKINNY_TIMING"] != "hot"

    /// The buffers of one shape's chain timing, made at its first candidate: the L2-clearing
    /// read's buffer and sink, x's saved copy (taken once: every timed run leaves x as it was) and
    /// the identity row indices the copy back into x gathers with.
    struct ChainTimingBuffers {
        let flush: DeviceBuffer
        let sink: DeviceBuffer
        let saved: DeviceBuffer
        let indices: DeviceBuffer
    }

    /// Bytes of the L2-clearing read: twice the L2, a multiple of 16.
    static func chainFlushBytes(l2CacheBytes: Int) -> Int {
        max(16 << 20, 2 * l2CacheBytes + 15) / 16 * 16
    }

    /// Milliseconds `body` (a product reading `x`) adds to a chain of kernels like a decode step's
    /// (see above). `x` must be a bf16 tensor whose rows are contiguous (row stride = columns),
    /// the same one for every call with the same `buffers`; its values are the same afterwards.
    /// Without graph capture, or without memory for the L2-clearing read, falls back to
    /// `timeAsInGraph`.
    func timeInChain(input x: DeviceTensor, buffers: inout ChainTimingBuffers?, _ body: () throws -> Void) throws -> Double {
        guard stream.canCaptureGraphs, x.elementType == .bf16 else { return try timeAsInGraph(body) }
        let timing: ChainTimingBuffers
        if let made = buffers {
            timing = made
        } else {
            // A GPU too full for the L2-clearing buffer (~100 MB) times back to back instead of failing the product.
            let flushBytes = Self.chainFlushBytes(l2CacheBytes: runtime.device.l2CacheBytes)
            guard let flush = try? runtime.allocator.allocate(byteCount: flushBytes) else { return try timeAsInGraph(body) }
            let made = ChainTimingBuffers(flush: flush, sink: try runtime.allocator.allocate(byteCount: 8),
                                          saved: try runtime.allocator.allocate(byteCount: x.rows * x.columns * 2),
                                          indices: try runtime.allocator.allocate(byteCount: x.rows * 4))
            try stream.fill(flush, byte: 0)
            try stream.upload((0..<x.rows).map { Int32($0) }, to: made.indices)
            try stream.copy(from: x.buffer, to: made.saved, byteCount: x.rows * x.columns * 2)
            buffers = made
            timing = made
        }

        let flushFunction = try kernels.function("membench_grid_u4_f0")
        let gather = try kernels.function("gather_rows_bf16")
        func flush() throws {
            var arguments = KernelArguments()
            arguments.pointer(timing.flush)
            arguments.int64(timing.flush.byteCount / 16)
            arguments.int64(0)
            arguments.pointer(timing.sink)
            try stream.launch(flushFunction, grid: (2 * runtime.device.multiprocessors, 1, 1), block: (1024, 1, 1), arguments: arguments)
        }
        func predecessor() throws {
            var arguments = KernelArguments()
            arguments.pointer(timing.saved)
            arguments.pointer(timing.indices)
            arguments.pointer(x.buffer)
            arguments.int32(x.columns)
            try stream.launch(gather, grid: (x.rows, 1, 1), block: (256, 1, 1), arguments: arguments)
        }
        try body()  // nested choices and cuBLASLt's own first-call work happen outside the capture
        func capture(withProduct: Bool) throws -> CUDAGraph {
            try stream.beginCapture()
            do {
                for _ in 0..<8 {
                    try flush()
                    try predecessor()
                    if withProduct { try body() }
                }
            } catch {
                _ = try? stream.endCapture()
                throw error
            }
            return try stream.endCapture()
        }
        let with = try capture(withProduct: true), without = try capture(withProduct: false)
        try with.launch(on: stream)
        try without.launch(on: stream)
        let start = try CUDAEvent(device: runtime.device), end = try CUDAEvent(device: runtime.device)
        func fastest(_ graph: CUDAGraph) throws -> Double {
            try start.record(on: stream)
            try graph.launch(on: stream)
            try end.record(on: stream)
            try end.synchronize()
            return Double(try end.milliseconds(since: start))
        }
        var bestWith = Double.infinity, bestWithout = Double.infinity
        for _ in 0..<5 {  // interleaved, so that a clock or thermal drift touches both alike
            bestWith = min(bestWith, try fastest(with))
            bestWithout = min(bestWithout, try fastest(without))
        }
        return max(0, bestWith - bestWithout) / 8
    }
}
