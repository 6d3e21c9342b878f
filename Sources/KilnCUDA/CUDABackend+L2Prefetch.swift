import Foundation
import KilnBackend

/// `prefetchWeight`: the layer's gate/up weight, or its first part, brought into L2 by
/// l2_prefetch.cu while the latency-bound attention chain runs (`L2PrefetchPlan`).
extension CUDABackend {
    public func prefetchWeight(_ weight: CUDAWeight, gated: Bool) throws {
        pendingPrefetch = nil
        guard l2Prefetch != nil, weight.elementType == .bf16 else { return }
        pendingPrefetch = PendingPrefetch(weight: weight, gated: gated)
    }

    /// Queues the pending prefetch when the plan puts it at `point` (or `point` is nil: at once,
    /// wherever the plan puts it) and the step's products are small enough; drops it otherwise.
    func issuePendingPrefetch(at point: L2PrefetchPlan.Point?, rows: Int) throws {
        guard let pending = pendingPrefetch, let plan = l2Prefetch else { return }
        if let point, point != plan.point { return }
        pendingPrefetch = nil
        guard rows <= plan.maximumRows else { return }
        try prefetch(pending.weight, gated: pending.gated, plan: plan)
    }

    /// Queues the prefetch of `plan.bytes` of `weight` in the order its product reads it (checks
    /// call it directly; a step through `prefetchWeight`).
    public func prefetch(_ weight: CUDAWeight, gated: Bool, plan: L2PrefetchPlan) throws {
        let ranges = plan.ranges(rows: weight.rows, rowBytes: weight.columns * weight.elementType.byteSize, gated: gated)
        try launchL2Prefetch(weight.buffer, ranges: ranges, chunkBytes: plan.chunkBytes)
    }

    /// One l2_prefetch launch over at most two byte ranges of `buffer` (offsets and sizes
    /// multiples of 16).
    func launchL2Prefetch(_ buffer: DeviceBuffer, ranges: [Range<Int>], chunkBytes: Int) throws {
        precondition(ranges.count <= 2 && chunkBytes % 16 == 0 && ranges.allSatisfy {
            $0.lowerBound % 16 == 0 && $0.count % 16 == 0 && $0.upperBound <= buffer.byteCount
        }, "l2_prefetch: ranges \(ranges) of \(buffer.byteCount) bytes, chunks of \(chunkBytes)")
        let parts = ranges.filter { !$0.isEmpty }
        guard !parts.isEmpty else { return }
        let chunks = parts.reduce(0) { $0 + ($1.count + chunkBytes - 1) / chunkBytes }
        var arguments = KernelArguments()
        for index in 0..<2 {
            let part = index < parts.count ? parts[index] : 0..<0
            arguments.address(buffer.address + CUdeviceptr(part.lowerBound))
            arguments.int64(part.count)
        }
        arguments.int32(chunkBytes)
        try stream.launch(try kernels.function("l2_prefetch"), grid: ((chunks + 127) / 128, 1, 1), block: (128, 1, 1),
                          arguments: arguments)
    }
}

/// A prefetch announced by `prefetchWeight`, waiting for its point in the attention chain.
struct PendingPrefetch {
    var weight: CUDAWeight
    var gated: Bool
}
