import KilnCore

/// Greedy token ids a backend has chosen but the host may not have seen yet: a step's argmax
/// still on its way back from the device. A later step can take them as its tokens on the device
/// (`Backend.feedTokens`), so the host queues step n + 1 before it reads step n's ids and its
/// round trip between steps (read the ids, stop rules, upload, launch) overlaps the GPU's work.
public final class QueuedTokens: @unchecked Sendable {
    /// Rows (one id each).
    public let rows: Int
    /// The ids, once read (at once for a backend that does not queue).
    public private(set) var ids: [Int]?
    /// The backend's own state while the ids are in flight (device ids, event, host slot).
    public let pending: AnyObject?

    /// Ids known now.
    public init(ids: [Int]) {
        rows = ids.count
        self.ids = ids
        pending = nil
    }

    /// Ids in flight; the backend reads them into `ids` with `resolve`.
    public init(rows: Int, pending: AnyObject) {
        self.rows = rows
        self.pending = pending
    }

    /// The error of a backend handed queued ids it did not make.
    public static func foreign(to backend: String) -> KilnError {
        KilnError.invalidArgument("\(backend): queued token ids from another backend")
    }

    /// Records the ids read back.
    public func resolve(_ ids: [Int]) {
        precondition(ids.count == rows, "QueuedTokens: \(ids.count) ids for \(rows) rows")
        self.ids = ids
    }
}
