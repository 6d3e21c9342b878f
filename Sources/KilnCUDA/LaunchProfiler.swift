import KilnCore

/// GPU time per kernel name, for finding where a step's time goes: every launch on a profiled
/// stream is bracketed by two events (so it only makes sense without CUDA graphs, which hide the
/// launches). The events add a few microseconds of gap between kernels but not to their times.
public final class LaunchProfiler: @unchecked Sendable {
    /// One kernel name's launches.
    public struct Entry: Sendable {
        public var name: String
        public var launches: Int
        public var milliseconds: Double
    }

    private let device: CUDADevice
    private var pending: [(String, CUDAEvent, CUDAEvent)] = []
    private var spare: [CUDAEvent] = []
    private var totals: [String: (Int, Double)] = [:]

    /// A profiler for streams of `device`.
    public init(device: CUDADevice) { self.device = device }

    private func event() throws -> CUDAEvent {
        if let event = spare.popLast() { return event }
        return try CUDAEvent(device: device)
    }

    /// Queues `body`'s launches between two events on `stream`, filed under `name`.
    func measure(_ name: String, on stream: CUDAStream, _ body: () throws -> Void) throws {
        let start = try event(), end = try event()
        try start.record(on: stream)
        try body()
        try end.record(on: stream)
        pending.append((name, start, end))
        if pending.count >= 4096 { try collect() }
    }

    /// Waits for the recorded launches and adds their times to the totals.
    public func collect() throws {
        for (name, start, end) in pending {
            try end.synchronize()
            let milliseconds = Double(try end.milliseconds(since: start))
            let total = totals[name] ?? (0, 0)
            totals[name] = (total.0 + 1, total.1 + milliseconds)
            spare.append(start)
            spare.append(end)
        }
        pending.removeAll()
    }

    /// Totals by name, most time first.
    public func entries() throws -> [Entry] {
        try collect()
        return totals.map { Entry(name: $0.key, launches: $0.value.0, milliseconds: $0.value.1) }.sorted { $0.milliseconds > $1.milliseconds }
    }

    /// Forgets what was measured.
    public func reset() throws {
        try collect()
        totals.removeAll()
    }
}
