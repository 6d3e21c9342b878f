import Testing
@testable import KilnCUDA

/// Skinny-GEMM decisions as autotune-record entries (GPU-free): keys and values round-trip, and
/// entries for another kernel source, malformed ones or configurations the kernel file does not
/// export are not taken.
@Suite struct SkinnyDecisionRecordTests {
    let shape = GEMVKey(kernel: "skinny_gemm_gateup_gelu_bf16", outputs: 16384, inputs: 2048, rows: 64)

    @Test func roundTrip() {
        let key = SkinnyDecisionRecord.key(shape)
        #expect(key.hasPrefix("skinny skinny_gemm_gateup_gelu_bf16 n16384 k2048 m64 "))
        #expect(SkinnyDecisionRecord.shape(key) == shape)
        let choice = SkinnyGEMMChoice(rowsPerBlock: 128, batchTile: 64, splits: 1)
        #expect(SkinnyDecisionRecord.value(.skinny(choice)) == "n128 m64 x1")
        #expect(SkinnyDecisionRecord.path("n128 m64 x1") == .skinny(choice))
        #expect(SkinnyDecisionRecord.path(SkinnyDecisionRecord.value(.library)) == .library)
        #expect(SkinnyDecisionRecord.currentSource.count == 12)
        // The TMA variant carries its tag; records written before it (three fields) still read.
        let tma = SkinnyGEMMChoice(rowsPerBlock: 64, batchTile: 64, splits: 8, tma: true)
        #expect(SkinnyDecisionRecord.value(.skinny(tma)) == "n64 m64 x8 tma")
        #expect(SkinnyDecisionRecord.path("n64 m64 x8 tma") == .skinny(tma))
        #expect(SkinnyDecisionRecord.path("n64 m64 x8") == .skinny(SkinnyGEMMChoice(rowsPerBlock: 64, batchTile: 64, splits: 8)))
        // The swapped kernels: width, ring slots, slices.
        let swapped = SkinnyGEMMChoice.swapped(rowsPerBlock: 24, stages: 20, splits: 2)
        #expect(SkinnyDecisionRecord.value(.skinny(swapped)) == "w24 s20 x2")
        #expect(SkinnyDecisionRecord.path("w24 s20 x2") == .skinny(swapped))
        let two = SkinnyGEMMChoice.swapped(rowsPerBlock: 48, stages: 8, splits: 1, consumers: 2)
        #expect(SkinnyDecisionRecord.value(.skinny(two)) == "w48 s8 x1 c2" && SkinnyDecisionRecord.path("w48 s8 x1 c2") == .skinny(two))
        let shared = SkinnyGEMMChoice.swapped(rowsPerBlock: 48, stages: 8, splits: 1, consumers: 2, multicast: 4)
        #expect(SkinnyDecisionRecord.value(.skinny(shared)) == "w48 s8 x1 c2 m4" && SkinnyDecisionRecord.path("w48 s8 x1 c2 m4") == .skinny(shared))
        #expect(SkinnyDecisionRecord.path("w48 s8 x1 m2") == .skinny(.swapped(rowsPerBlock: 48, stages: 8, splits: 1, multicast: 2)))
        #expect(SkinnyDecisionRecord.path("w48 s8 x1 c4") == .skinny(.swapped(rowsPerBlock: 48, stages: 8, splits: 1, consumers: 4)))
        // Split K through a workspace: " ws", 2-16 slices, never with whole K or multicast; 16 only so.
        let sliced = SkinnyGEMMChoice.swapped(rowsPerBlock: 64, stages: 8, splits: 16, consumers: 2, workspace: true)
        #expect(SkinnyDecisionRecord.value(.skinny(sliced)) == "w64 s8 x16 c2 ws" && SkinnyDecisionRecord.path("w64 s8 x16 c2 ws") == .skinny(sliced))
        #expect(SkinnyDecisionRecord.path("w64 s8 x1 ws") == nil && SkinnyDecisionRecord.path("w64 s8 x1 m2 ws") == nil)
        #expect(SkinnyDecisionRecord.path("w64 s8 x16") == nil)
    }

    /// Which restored decisions a GPU may take (CUDABackend.restoreSkinny).
    @Test func restoredDecisionsMustRunHere() {
        let down = GEMVKey(kernel: "skinny_gemm_bf16", outputs: 2048, inputs: 16384, rows: 64)
        let limit = 232_448 - 1024
        func usable(_ choice: SkinnyGEMMChoice, _ shape: GEMVKey, clusters: Bool = true, tma: Bool = true, swapped: Bool = true) -> Bool {
            SkinnyDecisionRecord.usable(choice, for: shape, clusters: clusters, tma: tma, swapped: swapped, sharedBytesPerBlock: limit)
        }
        let sliced = SkinnyGEMMChoice.swapped(rowsPerBlock: 64, stages: 12, splits: 4, consumers: 2, workspace: true)
        let clustered = SkinnyGEMMChoice.swapped(rowsPerBlock: 64, stages: 12, splits: 4, consumers: 2)
        #expect(usable(sliced, down) && usable(clustered, down))
        // Without clusters: the workspace split still runs, the cluster split does not.
        #expect(usable(sliced, down, clusters: false) && !usable(clustered, down, clusters: false))
        // A workspace split only for plain products with N a multiple of 4.
        #expect(!usable(sliced, shape) && !usable(sliced, GEMVKey(kernel: "skinny_gemm_bf16", outputs: 2050, inputs: 16384, rows: 64)))
        // Swapped kernels: tensor maps and the switch on, a ring that fits, a width the kind exports.
        #expect(!usable(sliced, down, tma: false) && !usable(sliced, down, swapped: false))
        #expect(!usable(.swapped(rowsPerBlock: 64, stages: 40, splits: 1), down))
        #expect(!usable(.swapped(rowsPerBlock: 24, stages: 8, splits: 1), shape) && usable(.swapped(rowsPerBlock: 24, stages: 8, splits: 1), down))
        // The cp.async kernels need neither TMA nor the swap switch.
        #expect(usable(SkinnyGEMMChoice(rowsPerBlock: 128, batchTile: 64, splits: 1), shape, tma: false, swapped: false))
    }

    @Test func foreignOrMalformedEntriesAreIgnored() {
        // Another skinny_gemm.cu: timed again rather than trusted.
        #expect(SkinnyDecisionRecord.shape(SkinnyDecisionRecord.key(shape, source: "000000000000")) == nil)
        let current = SkinnyDecisionRecord.currentSource
        for key in ["matmul bf16 m64 n2048 k2048", "skinny skinny_gemm_bf16 n2048 k2048 \(current)",
                    "skinny gemv_bf16 n2048 k2048 m64 \(current)", "skinny skinny_gemm_bf16 n0 k2048 m64 \(current)",
                    "skinny skinny_gemm_bf16 nx k2048 m64 \(current)"] {
            #expect(SkinnyDecisionRecord.shape(key) == nil, "\(key)")
        }
        for value in ["n96 m64 x1", "n128 m48 x1", "n128 m64 x3", "n128 m64", "cublas", "", "n128 m64 x1 tmb", "n128 m64 x1 tma x",
                      "w20 s8 x1", "w24 s1 x1", "w24 s8 x3", "w24 s8", "w24 m8 x1", "w24 s8 x1 c3", "w24 s8 x2 m2", "w24 s8 x1 m3", "w24 s8 x1 m4 c2", "w24 s8 x1 m2 m2", "w24 s7 x1 c2", "w24 s6 x1 c4"] {
            #expect(SkinnyDecisionRecord.path(value) == nil, "\(value)")
        }
    }
}
