import Foundation
import KilnBackend
import KilnCore

/// Greedy steps queued ahead of their ids (QueuedTokens): the argmax's ids are copied into
/// page-locked host memory behind an event instead of read with a synchronising copy, and the
/// next step's tokens are copied from the device ids into its step buffers, so the host queues
/// step n + 1 (upload, graph launch) while step n still runs and reads step n's ids afterwards.
/// Without it the GPU idles for the host's whole round trip between steps: reading the ids back,
/// the stop rules, packing and uploading the next batch, launching the graph.
extension CUDABackend {
    public var queuesSteps: Bool { queuedStepsEnabled && runtime.device.driver.functions.cuMemAllocHost != nil }

    public func queueArgmaxRows(_ x: DeviceTensor, columns: Int) throws -> QueuedTokens {
        precondition(columns == x.columns, "queueArgmaxRows: \(columns) columns asked of a [\(x.rows), \(x.columns)] tensor")
        guard queuesSteps, x.rows > 0, x.rows <= PinnedIDSlots.rowsPerSlot, let slots = try pinnedIDSlots(),
              let slot = slots.take() else {
            return QueuedTokens(ids: try argmaxRows(x, columns: columns))
        }
        let pending = try PendingArgmax(rows: x.rows, slots: slots, slot: slot, allocator: runtime.allocator)
        try kernels.argmax(x, ids: pending.ids, values: pending.values, scratch: runtime.allocator, on: stream)
        try runtime.device.check(runtime.device.driver.functions.cuMemcpyDtoHAsync(slots.host(slot), pending.ids.address, 4 * x.rows,
                                                                                    stream.handle), "cuMemcpyDtoHAsync(queued ids)")
        try pending.event.record(on: stream)
        return QueuedTokens(rows: x.rows, pending: pending)
    }

    public func tokenIDs(_ queued: QueuedTokens) throws -> [Int] {
        if let ids = queued.ids { return ids }
        guard let pending = queued.pending as? PendingArgmax else {
            throw QueuedTokens.foreign(to: name)
        }
        try pending.event.synchronize()
        let host = pending.slots.host(pending.slot).assumingMemoryBound(to: Int32.self)
        let ids = (0..<queued.rows).map { Int(host[$0]) }
        queued.resolve(ids)
        return ids
    }

    public func feedTokens(_ queued: QueuedTokens) throws {
        guard queued.ids != nil || queued.pending is PendingArgmax else {
            throw QueuedTokens.foreign(to: name)
        }
        tokenFeed = queued
    }

    /// Writes the fed ids (`feedTokens`) over the tokens `step` was just given, queued after the
    /// upload. The feed stays until `runStep` ends (its `defer`), so that a step whose recording
    /// fails and runs op by op instead (`prepare`) is fed again.
    func applyTokenFeed(to step: CUDAStepBuffers) throws {
        guard let feed = tokenFeed else { return }
        guard feed.rows == step.batch.tokens.count else {
            throw KilnError.invalidArgument("feedTokens: \(feed.rows) ids for a step of \(step.batch.tokens.count) rows")
        }
        if let pending = feed.pending as? PendingArgmax, feed.ids == nil {
            try runtime.device.check(runtime.device.driver.functions.cuMemcpyDtoDAsync(step.tokens, pending.ids.address, 4 * feed.rows,
                                                                                        stream.handle), "cuMemcpyDtoDAsync(fed tokens)")
            deviceFedSteps.withLock { $0 += 1 }
        } else if let ids = feed.ids {
            let values = ids.map { Int32(truncatingIfNeeded: $0) }
            try values.withUnsafeBytes { try stream.copy(from: $0, to: step.storage) }
        }
    }

    /// The page-locked slots, made at first use; nil when the driver cannot make them (then
    /// greedy steps wait for their ids, as without queuing). Used from the one thread that queues
    /// the backend's steps, like `tokenFeed`.
    private func pinnedIDSlots() throws -> PinnedIDSlots? {
        if let pinnedSlots { return pinnedSlots }
        guard !pinnedSlotsFailed else { return nil }
        guard let slots = try? PinnedIDSlots(device: runtime.device) else {
            pinnedSlotsFailed = true
            return nil
        }
        pinnedSlots = slots
        return slots
    }
}

/// One queued argmax: its device outputs, its host slot and that slot's event (recorded after
/// the copy to the host).
final class PendingArgmax {
    let ids: DeviceBuffer
    let values: DeviceBuffer
    let slots: PinnedIDSlots
    let slot: Int
    var event: CUDAEvent { slots.events[slot] }

    init(rows: Int, slots: PinnedIDSlots, slot: Int, allocator: DeviceAllocator) throws {
        do {
            ids = try allocator.allocate(byteCount: 4 * rows)
            values = try allocator.allocate(byteCount: 4 * rows)
        } catch {
            slots.give(slot)
            throw error
        }
        self.slots = slots
        self.slot = slot
    }

    /// The slot is free again once nothing can read it: the event has passed or is abandoned
    /// with the stream's later work ordered after it (a slot is reused only by a later copy).
    deinit { slots.give(slot) }
}

/// Page-locked host memory for queued ids: a few slots of `rowsPerSlot` int32 ids, reused, each
/// with its event (made once here, not per step: the decode loop queues one a token).
final class PinnedIDSlots: @unchecked Sendable {
    static let rowsPerSlot = 512
    static let count = 8
    let device: CUDADevice
    let base: UnsafeMutableRawPointer
    let events: [CUDAEvent]
    private var free: [Int]
    private let lock = NSLock()

    init?(device: CUDADevice) throws {
        guard let allocate = device.driver.functions.cuMemAllocHost else { return nil }
        events = try (0..<Self.count).map { _ in try CUDAEvent(device: device) }  // before the memory: nothing leaks if they fail
        var pointer: UnsafeMutableRawPointer?
        try device.check(allocate(&pointer, 4 * Self.rowsPerSlot * Self.count), "cuMemAllocHost(queued ids)")
        guard let pointer else { return nil }
        self.device = device
        base = pointer
        free = Array((0..<Self.count).reversed())
    }

    deinit { _ = device.driver.functions.cuMemFreeHost?(base) }

    func host(_ slot: Int) -> UnsafeMutableRawPointer { base + 4 * Self.rowsPerSlot * slot }
    func take() -> Int? { lock.withLock { free.popLast() } }
    func give(_ slot: Int) { lock.withLock { free.append(slot) } }
}
