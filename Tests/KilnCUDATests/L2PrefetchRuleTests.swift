import Testing
@testable import KilnCUDA

/// The L2 prefetch's GPU-free rules (CUDABackend+Prefetch.swift): which bytes of a weight a
/// prefetch covers, and how `KILN_L2_PREFETCH_MB` is read.
@Suite struct L2PrefetchRuleTests {
    @Test func gatedWeightGetsTheStartOfEachHalf() {
        // Gemma-2B's gate/up: [2 x 16384, 2048] bf16, 128 MiB; 24 MiB: 12 MiB at the gate rows' start, 12 at the up rows'.
        let ranges = CUDABackend.prefetchRanges(rows: 32768, columns: 2048, elementBytes: 2, gated: true, budget: 24 << 20)
        #expect(ranges.count == 2)
        #expect(ranges[0].offset == 0 && ranges[0].bytes == 12 << 20)
        #expect(ranges[1].offset == 64 << 20 && ranges[1].bytes == 12 << 20)
    }

    @Test func plainWeightGetsItsFirstBytes() {
        let ranges = CUDABackend.prefetchRanges(rows: 2048, columns: 16384, elementBytes: 2, gated: false, budget: 8 << 20)
        #expect(ranges.count == 1 && ranges[0].offset == 0 && ranges[0].bytes == 8 << 20)
    }

    @Test func budgetPastTheWeightIsClippedToIt() {
        // A tiny gated weight [2 x 8, 24] bf16 = 768 bytes: each half whole (384 bytes).
        let gated = CUDABackend.prefetchRanges(rows: 16, columns: 24, elementBytes: 2, gated: true, budget: 1 << 20)
        #expect(gated.map(\.offset) == [0, 384] && gated.map(\.bytes) == [384, 384])
        let plain = CUDABackend.prefetchRanges(rows: 3, columns: 40, elementBytes: 2, gated: false, budget: 1 << 20)
        #expect(plain.count == 1 && plain[0].bytes == 240)
    }

    @Test func rangesAreWholeSixteenByteUnitsInsideTheWeight() {
        // 3 x 12 bf16 = 72 bytes: 64 of them (the bulk prefetch's 16-byte unit); an odd gated row count counts as plain.
        let plain = CUDABackend.prefetchRanges(rows: 3, columns: 12, elementBytes: 2, gated: true, budget: 1000)
        #expect(plain.count == 1 && plain[0].bytes == 64)
        #expect(CUDABackend.prefetchRanges(rows: 1, columns: 4, elementBytes: 2, gated: false, budget: 1 << 20).isEmpty)
        #expect(CUDABackend.prefetchRanges(rows: 64, columns: 64, elementBytes: 2, gated: false, budget: 8).isEmpty)
        for budget in [16, 100, 4096, 1 << 22] {
            for range in CUDABackend.prefetchRanges(rows: 100, columns: 36, elementBytes: 2, gated: true, budget: budget) {
                #expect(range.bytes % 16 == 0 && range.offset % 16 == 0 && range.offset + range.bytes <= 100 * 36 * 2)
            }
        }
    }

    @Test func environmentValueIsWholeMebibytesOrOff() {
        #expect(CUDABackend.l2PrefetchBytes(environment: nil) == 0)
        #expect(CUDABackend.l2PrefetchBytes(environment: "0") == 0)
        #expect(CUDABackend.l2PrefetchBytes(environment: "-4") == 0)
        #expect(CUDABackend.l2PrefetchBytes(environment: "lots") == 0)
        #expect(CUDABackend.l2PrefetchBytes(environment: " 24 ") == 24 << 20)
        #expect(CUDABackend.l2PrefetchBytes(environment: "99999") == 1024 << 20)
    }
}
