import Foundation
import KilnBackend
import KilnCore

/// A side stream for L2 prefetches and the two events that fork it from the step's stream and
/// join it back (inside a capture: a graph branch beside the layer's attention).
final class PrefetchLane {
    let stream: CUDAStream
    let fork: CUDAEvent
    let join: CUDAEvent

    init(device: CUDADevice) throws {
        stream = try CUDAStream(device: device)
        fork = try CUDAEvent(device: device, timing: false)
        join = try CUDAEvent(device: device, timing: false)
    }
}

/// `willRead` on CUDA: the first bytes of a decode layer's gate/up weight brought into L2
/// (l2_prefetch.cu) on a side stream, forked after the layer's norm, so the fetch runs while the
/// Q/K/V product, attention, reduce and output projection (latency-bound at small batches: a
/// batch-1 Gemma-2B layer spends ~20 of its ~93 µs there with HBM mostly idle, H100 trace,
/// bench/results/issue4-session9-2026-11-27.txt section 7) run on the step's stream. The gate/up
/// kernels then find their first waves' tiles in L2. The branch joins the step's stream at the end
/// of the step, so it never delays a kernel of the chain (nor breaks its programmatic launches).
extension CUDABackend {
    /// Most activation rows a prefetch is queued for (decode-sized products; a prefill's product
    /// is compute-bound and reads its weights many times).
    static let prefetchMaximumRows = 64

    /// `KILN_L2_PREFETCH_MB` as bytes: a whole number of MiB, 0 (or unset, or not a number): off.
    static func l2PrefetchBytes(environment value: String?) -> Int {
        guard let value, let megabytes = Int(value.trimmingCharacters(in: .whitespaces)), megabytes > 0 else { return 0 }
        return min(megabytes, 1024) << 20
    }

    /// The byte ranges a prefetch of `budget` bytes covers for `weight`: a gated weight's products
    /// read gate row r and up row mlp + r together, first rows first, so half the budget goes to the
    /// start of each half; any other weight's products read it from its first row. Each range is a
    /// multiple of 16 bytes (the bulk prefetch's unit) and inside the weight. GPU-free (tests).
    static func prefetchRanges(rows: Int, columns: Int, elementBytes: Int, gated: Bool, budget: Int) -> [(offset: Int, bytes: Int)] {
        let total = rows * columns * elementBytes
        guard budget >= 16, total >= 16 else { return [] }
        if gated && rows % 2 == 0 {
            let half = total / 2
            let each = min(budget / 2, half) / 16 * 16
            return each > 0 ? [(0, each), (half, each)] : []
        }
        let bytes = min(budget, total) / 16 * 16
        return [(0, bytes)]
    }

    public func willRead(_ weight: CUDAWeight, gated: Bool, tokens: Int) throws {
        guard l2PrefetchBytes > 0, tokens <= Self.prefetchMaximumRows, profileSkips.isEmpty,
              runtime.device.driver.functions.cuStreamWaitEvent != nil else { return }
        let ranges = Self.prefetchRanges(rows: weight.rows, columns: weight.columns, elementBytes: weight.elementType.byteSize,
                                         gated: gated, budget: l2PrefetchBytes)
        guard let first = ranges.first else { return }
        // Inside a capture the weight's address is baked into the graph like every product's.
        guard ranges.allSatisfy({ $0.bytes == first.bytes }) else { return }
        let lane: PrefetchLane
        if let existing = prefetchLane { lane = existing } else { lane = try PrefetchLane(device: runtime.device); prefetchLane = lane }
        try lane.fork.record(on: stream)
        guard try lane.stream.wait(for: lane.fork) else { return }
        var arguments = KernelArguments()
        arguments.address(weight.buffer.address + CUdeviceptr(first.offset))
        arguments.address(ranges.count > 1 ? weight.buffer.address + CUdeviceptr(ranges[1].offset) : 0)
        arguments.int64(first.bytes)
        // One warp on each SM: a warp issues its 4 KiB bulk prefetches back to back; the blocks
        // hold no shared memory and few registers, so they fit beside the chain's early-launched blocks.
        try lane.stream.launch(try kernels.function("l2_prefetch"), grid: (runtime.device.multiprocessors, 1, 1), block: (32, 1, 1),
                               arguments: arguments)
        prefetchForked = true
        prefetchLaunches.withLock { $0 += 1 }
    }

    /// Joins a forked prefetch branch back into the step's stream (a capture must end joined).
    func joinPrefetches() throws {
        guard prefetchForked, let lane = prefetchLane else { return }
        prefetchForked = false
        try lane.join.record(on: lane.stream)
        try stream.wait(for: lane.join)
    }
}
