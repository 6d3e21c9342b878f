import Testing
@testable import KilnCUDA

/// The L2 prefetch plan's rules that need no GPU: which byte ranges a budget covers, and the
/// environment switches.
@Suite struct L2PrefetchPlanTests {
    @Test func gatedWeightsTakeTheFirstRowsOfEachHalf() {
        // Gemma-2B gate/up [2 x 16384, 2048] bf16 (4,096-byte rows), 24 MiB: 3,072 rows of each half.
        let plan = L2PrefetchPlan(bytes: 24 << 20, point: .afterQKV)
        let rowBytes = 4096, mlp = 16384
        #expect(plan.ranges(rows: 2 * mlp, rowBytes: rowBytes, gated: true)
                == [0..<3072 * rowBytes, mlp * rowBytes..<(mlp + 3072) * rowBytes])
    }

    @Test func budgetsAreCutAtWholeRowsAndCappedByTheWeight() {
        let plan = L2PrefetchPlan(bytes: 1000, point: .afterQKV)
        #expect(plan.ranges(rows: 10, rowBytes: 144, gated: false) == [0..<6 * 144])
        #expect(plan.ranges(rows: 10, rowBytes: 144, gated: true) == [0..<3 * 144, 5 * 144..<8 * 144])
        // Larger than the weight: all of it.
        let large = L2PrefetchPlan(bytes: 1 << 30, point: .afterQKV)
        #expect(large.ranges(rows: 10, rowBytes: 144, gated: false) == [0..<1440])
        #expect(large.ranges(rows: 10, rowBytes: 144, gated: true) == [0..<720, 720..<1440])
        // Smaller than a row (a row of each half when gated): nothing.
        let tiny = L2PrefetchPlan(bytes: 200, point: .afterQKV)
        #expect(tiny.ranges(rows: 10, rowBytes: 144, gated: true).isEmpty)
        #expect(tiny.ranges(rows: 0, rowBytes: 144, gated: false).isEmpty)
    }

    @Test func environmentSwitches() {
        let l2 = 50 << 20
        #expect(L2PrefetchPlan.fromEnvironment([:], l2Bytes: l2) == L2PrefetchPlan(bytes: 25 << 20, point: .afterQKV))
        #expect(L2PrefetchPlan.fromEnvironment(["KILN_L2_PREFETCH": "0"], l2Bytes: l2) == nil)
        let set = L2PrefetchPlan.fromEnvironment(["KILN_L2_PREFETCH": "16", "KILN_L2_PREFETCH_AT": "reduce",
                                                  "KILN_L2_PREFETCH_CHUNK": "65540", "KILN_L2_PREFETCH_ROWS": "64"], l2Bytes: l2)
        #expect(set == L2PrefetchPlan(bytes: 16 << 20, point: .afterAttention, chunkBytes: 65536, maximumRows: 64))
        // Unknown values keep the defaults.
        #expect(L2PrefetchPlan.fromEnvironment(["KILN_L2_PREFETCH_AT": "later", "KILN_L2_PREFETCH_CHUNK": "8"], l2Bytes: l2)
                == L2PrefetchPlan(bytes: 25 << 20, point: .afterQKV))
    }
}
