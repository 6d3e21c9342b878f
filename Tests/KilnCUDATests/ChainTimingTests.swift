import Testing
@testable import KilnCUDA

/// The chain timing's GPU-free parts (CUDABackend+ChainTiming.swift): the L2-clearing read's
/// size, and decisions of the two timing rules kept apart in the record.
@Suite struct ChainTimingTests {
    @Test func flushReadsTwiceTheL2() {
        #expect(CUDABackend.chainFlushBytes(l2CacheBytes: 50 << 20) == 100 << 20)  // H100 / H200: 50 MiB of L2
        #expect(CUDABackend.chainFlushBytes(l2CacheBytes: (40 << 20) + 3) % 16 == 0)
        #expect(CUDABackend.chainFlushBytes(l2CacheBytes: (40 << 20) + 3) >= 2 * ((40 << 20) + 3))
        // An L2 the driver reports as 0 or tiny still gets a read of 16 MiB.
        #expect(CUDABackend.chainFlushBytes(l2CacheBytes: 0) == 16 << 20)
    }

    @Test func timingRulesHaveTheirOwnDecisions() {
        #expect(SkinnyDecisionRecord.timingRuleTag(chain: true) != SkinnyDecisionRecord.timingRuleTag(chain: false))
        // Unset (as in the tests), the rule is the chain timing.
        #expect(CUDABackend.skinnyChainTimingSetting)
    }
}
