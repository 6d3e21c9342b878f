import Foundation

/// A traced step's records and the launches they form (GPU-free; KernelTracer collects them).
/// A launch is a run of records of one site in the order the blocks passed their
/// programmatic-launch wait: a kernel passes its wait only after the one before it has ended, so
/// in that order each launch's blocks come together (two launches of one site back to back would
/// merge; a decode step has none).
public enum KernelTrace {
    /// Where a record comes from: kiln_common.cuh's KilnTraceSite values.
    public struct Site: Hashable, Sendable {
        public let rawValue: Int
        /// (value, short name, name in kiln_common.cuh).
        static let table: [(Int, String, String)] = [
            (1, "embed", "kTraceEmbed"), (2, "rms_norm", "kTraceRMSNorm"), (3, "add_rms_norm", "kTraceAddRMSNorm"),
            (4, "gemv", "kTraceGEMV"), (5, "gemv_gateup", "kTraceGEMVGateUp"), (6, "gemv_logits", "kTraceGEMVLogits"),
            (7, "attention_input", "kTraceAttentionInput"), (8, "attention_decode", "kTraceAttentionDecode"),
            (9, "attention_decode_input", "kTraceAttentionDecodeInput"), (10, "attention_reduce", "kTraceAttentionReduce"),
            (11, "argmax", "kTraceArgmax"), (12, "argmax_merge", "kTraceArgmaxMerge"), (13, "gather_rows", "kTraceGatherRows"),
            (14, "gated", "kTraceGated"), (15, "skinny_gemm", "kTraceSkinnyGEMM"),
        ]
        public var name: String { Self.table.first { $0.0 == rawValue }?.1 ?? "site\(rawValue)" }
    }

    /// One block: thread 0's times in %globaltimer nanoseconds.
    public struct Record: Equatable, Sendable {
        public var site: Site
        public var sm: Int
        public var block: Int
        public var start: UInt64
        public var waited: UInt64
        public var end: UInt64

        public init(site: Int, sm: Int, block: Int, start: UInt64, waited: UInt64, end: UInt64) {
            self.site = Site(rawValue: site)
            self.sm = sm
            self.block = block
            self.start = start
            self.waited = waited
            self.end = end
        }

        /// From the kernel's four words: (site << 48 | SM << 32 | block), start, waited, end.
        public init(words: [UInt64]) {
            precondition(words.count == 4)
            self.init(site: Int(words[0] >> 48), sm: Int((words[0] >> 32) & 0xffff), block: Int(words[0] & 0xffff_ffff),
                      start: words[1], waited: words[2], end: words[3])
        }
    }

    /// One kernel launch.
    public struct Launch: Equatable, Sendable {
        public var site: Site
        public var blocks: Int
        public var multiprocessors: Int
        /// Earliest block entry, earliest and latest pass of the wait, latest exit (ns).
        public var firstStart: UInt64
        public var firstWaited: UInt64
        public var lastWaited: UInt64
        public var lastEnd: UInt64

        /// From the wait's release to the last block's exit.
        public var running: UInt64 { lastEnd - firstWaited }
        /// How long its first blocks were resident before the release (launched early).
        public var early: UInt64 { firstWaited - firstStart }
    }

    /// The launches of `records`, in order.
    public static func launches(_ records: [Record]) -> [Launch] {
        var result: [Launch] = []
        var sms = Set<Int>()
        // Ties on the release time (a coarse timer) go by the exit: a launch's blocks all exit no
        // later than the next launch's release.
        for record in records.sorted(by: { ($0.waited, $0.end, $0.start) < ($1.waited, $1.end, $1.start) }) {
            if var last = result.last, last.site == record.site {
                last.blocks += 1
                last.firstStart = min(last.firstStart, record.start)
                last.lastWaited = max(last.lastWaited, record.waited)
                last.lastEnd = max(last.lastEnd, record.end)
                sms.insert(record.sm)
                last.multiprocessors = sms.count
                result[result.count - 1] = last
            } else {
                sms = [record.sm]
                result.append(Launch(site: record.site, blocks: 1, multiprocessors: 1, firstStart: record.start,
                                     firstWaited: record.waited, lastWaited: record.waited, lastEnd: record.end))
            }
        }
        return result
    }

    /// The hand-off before each launch: its release minus the previous launch's last exit (0 for
    /// the first), in nanoseconds; negative values are clamped to 0.
    public static func handoffs(_ launches: [Launch]) -> [UInt64] {
        launches.indices.map { i in
            guard i > 0, launches[i].firstWaited > launches[i - 1].lastEnd else { return 0 }
            return launches[i].firstWaited - launches[i - 1].lastEnd
        }
    }

    /// The smallest non-zero difference between the launches' release and exit times, in ns (0
    /// when there is none): how fine the timer ticks on this GPU.
    public static func resolution(_ launches: [Launch]) -> UInt64 {
        let times = Set(launches.flatMap { [$0.firstWaited, $0.lastWaited, $0.lastEnd] }).sorted()
        return zip(times.dropFirst(), times).map { $0 - $1 }.min() ?? 0
    }

    /// A text table: one line per launch (microseconds from the first block's entry), then the
    /// totals per site and of the whole step.
    public static func table(_ launches: [Launch]) -> String {
        guard let origin = launches.map(\.firstStart).min(), let finish = launches.map(\.lastEnd).max() else { return "no records\n" }
        let gaps = handoffs(launches)
        func us(_ ns: UInt64) -> String { String(format: "%.2f", Double(ns) / 1000) }
        func left(_ text: String, _ width: Int) -> String { text.count >= width ? text : text + String(repeating: " ", count: width - text.count) }
        func right(_ text: String, _ width: Int) -> String { text.count >= width ? text : String(repeating: " ", count: width - text.count) + text }
        var lines = [left("#", 5) + left("site", 25) + right("blocks", 7) + right("SMs", 5) + right("start_us", 11) + right("release_us", 12)
                     + right("end_us", 10) + right("running_us", 12) + right("handoff_us", 12) + right("early_us", 10)]
        for (i, launch) in launches.enumerated() {
            lines.append(left("\(i)", 5) + left(launch.site.name, 25) + right("\(launch.blocks)", 7) + right("\(launch.multiprocessors)", 5)
                         + right(us(launch.firstStart - origin), 11) + right(us(launch.firstWaited - origin), 12)
                         + right(us(launch.lastEnd - origin), 10) + right(us(launch.running), 12) + right(us(gaps[i]), 12)
                         + right(us(launch.early), 10))
        }
        lines.append("")
        lines.append(left("site", 25) + right("launches", 9) + right("running_us", 12) + right("handoff_us", 12))
        var order: [Site] = []
        var running: [Site: UInt64] = [:], handoff: [Site: UInt64] = [:], count: [Site: Int] = [:]
        for (i, launch) in launches.enumerated() {
            if count[launch.site] == nil { order.append(launch.site) }
            count[launch.site, default: 0] += 1
            running[launch.site, default: 0] += launch.running
            handoff[launch.site, default: 0] += gaps[i]
        }
        for site in order {
            lines.append(left(site.name, 25) + right("\(count[site]!)", 9) + right(us(running[site]!), 12) + right(us(handoff[site]!), 12))
        }
        lines.append("")
        lines.append("timer: the smallest step between release times is \(resolution(launches)) ns (a coarse %globaltimer blurs hand-offs)")
        lines.append("step: \(launches.count) launches, \(us(finish - origin)) us from the first entry to the last exit; "
                     + "running \(us(launches.map(\.running).reduce(0, +))) us, hand-offs \(us(gaps.reduce(0, +))) us")
        return lines.joined(separator: "\n") + "\n"
    }
}
