import Dispatch
import Foundation

/// Splits `0..<count` into contiguous chunks run on all cores (Dispatch's thread pool).
enum ParallelFor {
    /// Number of worker threads (cores).
    static let threads = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Calls `body` with disjoint ranges covering `0..<count`; chunks hold at least `minimumChunk` items
    /// so tiny loops stay on one thread.
    static func run(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threads * 4, max(1, count / max(minimumChunk, 1)))
        if chunks == 1 {
            body(0..<count)
            return
        }
        let size = (count + chunks - 1) / chunks
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let start = chunk * size
                let end = min(count, start + size)
                if start < end { box.value(start..<end) }
            }
        }
    }
}

/// Lets a closure that only touches disjoint memory cross into Dispatch's `@Sendable` world.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
