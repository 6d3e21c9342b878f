import Foundation
import Testing
@testable import KilnCUDA

/// The trace analysis (GPU-free): records -> launches, hand-offs, the site table against the header.
@Suite struct KernelTraceTests {
    func record(_ site: Int, sm: Int = 0, block: Int = 0, _ start: UInt64, _ waited: UInt64, _ end: UInt64) -> KernelTrace.Record {
        KernelTrace.Record(site: site, sm: sm, block: block, start: start, waited: waited, end: end)
    }

    @Test func wordsDecode() {
        let words: [UInt64] = [(5 << 48) | (131 << 32) | 2047, 100, 200, 300]
        #expect(KernelTrace.Record(words: words) == record(5, sm: 131, block: 2047, 100, 200, 300))
    }

    @Test func launchesFollowTheWaitOrder() throws {
        // norm (1 block), then a GEMV launched early (its blocks entered before the norm ended),
        // then the attention; a late GEMV block entered after the attention's first one.
        let records = [
            record(3, sm: 0, 1_000, 1_500, 4_000),
            record(4, sm: 1, block: 0, 1_200, 5_000, 9_000),
            record(4, sm: 2, block: 1, 1_300, 5_100, 9_500),
            record(9, sm: 3, 2_000, 10_500, 15_000),
            record(4, sm: 1, block: 2, 9_100, 9_100, 9_800),
        ]
        let launches = KernelTrace.launches(records)
        #expect(launches.map(\.site.name) == ["add_rms_norm", "gemv", "attention_decode_input"])
        #expect(launches[1].blocks == 3 && launches[1].multiprocessors == 2)
        #expect(launches[1].firstStart == 1_200 && launches[1].firstWaited == 5_000 && launches[1].lastEnd == 9_800)
        #expect(launches[1].running == 4_800 && launches[1].early == 3_800)
        #expect(KernelTrace.handoffs(launches) == [0, 1_000, 700])
        let table = KernelTrace.table(launches)
        #expect(table.contains("gemv"))
        #expect(table.contains("step: 3 launches, 14.00 us"))
        // The launch line of the GEMV: 3 blocks on 2 SMs, released 4 us after the first entry,
        // running 4.8 us, handed off 1 us after the norm's exit, resident 3.8 us before.
        let gemvLine = try #require(table.split(separator: "\n").first { $0.hasPrefix("1 ") })
        #expect(gemvLine.split(separator: " ").map(String.init) == ["1", "gemv", "3", "2", "0.20", "4.00", "8.80", "4.80", "1.00", "3.80"])
    }

    /// With a coarse timer a late block of one launch and an early block of the next can share a
    /// release time: the exit order keeps each launch together.
    @Test func tiesOnTheReleaseGoByTheExit() {
        let records = [
            record(4, block: 0, 100, 1_000, 2_000),
            record(4, block: 1, 100, 3_000, 4_000),     // late wave of the GEMV
            record(3, block: 0, 2_500, 4_000, 5_000),   // the norm after it, released at its end
            record(4, block: 2, 3_500, 4_000, 4_000),   // a GEMV block released at the same tick
        ]
        let launches = KernelTrace.launches(records)
        #expect(launches.map(\.site.name) == ["gemv", "add_rms_norm"])
        #expect(launches[0].blocks == 3)
        #expect(KernelTrace.resolution(launches) == 1_000)
    }

    @Test func emptyTraceSaysSo() {
        #expect(KernelTrace.table([]) == "no records\n")
    }

    /// The Swift table names every site kiln_common.cuh defines, with the same values.
    @Test func sitesMatchTheKernelHeader() throws {
        let header = try #require(KernelLibrary.headers.first { $0.name == "kiln_common.cuh" }).text
        let pattern = try NSRegularExpression(pattern: #"(kTrace\w+) = (\d+)"#)
        let matches = pattern.matches(in: header, range: NSRange(header.startIndex..., in: header))
        let fromHeader = Dictionary(uniqueKeysWithValues: matches.map { match -> (String, Int) in
            (String(header[Range(match.range(at: 1), in: header)!]), Int(header[Range(match.range(at: 2), in: header)!])!)
        })
        #expect(fromHeader.count == KernelTrace.Site.table.count)
        for (value, _, cName) in KernelTrace.Site.table { #expect(fromHeader[cName] == value) }
    }
}
