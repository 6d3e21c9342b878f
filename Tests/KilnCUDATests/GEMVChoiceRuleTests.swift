import Testing
@testable import KilnCUDA

/// The GEMV configuration rules that need no GPU: which shapes skip timing, and the
/// KILN_GEMV_FORCE parser.
@Suite struct GEMVChoiceRuleTests {
    @Test func matricesThatFitInL2AreNotTimed() {
        // Gemma-2B: qkv [2560, 2048] and o [2048, 2048] bf16 take one chunk at 256 threads untimed;
        // gate/up [32768, 2048], down [2048, 16384] and the LM head are timed.
        let fixed = GEMVChoice(suffix: "_c1", threads: 256, splits: 1)
        #expect(CUDABackend.untimedGEMVChoice(weightBytes: 2560 * 2048 * 2) == fixed)
        #expect(CUDABackend.untimedGEMVChoice(weightBytes: 2048 * 2048 * 2) == fixed)
        #expect(CUDABackend.untimedGEMVChoice(weightBytes: 16 << 20) == fixed)
        #expect(CUDABackend.untimedGEMVChoice(weightBytes: (16 << 20) + 2) == nil)
        #expect(CUDABackend.untimedGEMVChoice(weightBytes: 2048 * 16384 * 2) == nil)
        #expect(CUDABackend.untimedGEMVChoice(weightBytes: 32768 * 2048 * 2) == nil)
    }

    @Test func forcedShapesParse() {
        let shapes = CUDABackend.parseForcedGEMVShapes("16384x2048=c1:256:1,2048x16384=c8:128:2")
        #expect(shapes == ["16384x2048": GEMVChoice(suffix: "_c1", threads: 256, splits: 1),
                           "2048x16384": GEMVChoice(suffix: "", threads: 128, splits: 2)])
        // Malformed entries are skipped, not guessed.
        #expect(CUDABackend.parseForcedGEMVShapes("").isEmpty)
        #expect(CUDABackend.parseForcedGEMVShapes("2560x2048=c2:256:1,2560x2048=c1:512:1,2560x2048=c1:256:3,2560x2048").isEmpty)
        #expect(CUDABackend.parseForcedGEMVShapes("2560x2048=c8:256:1,junk").count == 1)
        // The staged kernels (session 8) are gone: "st" is not a configuration.
        #expect(CUDABackend.parseForcedGEMVShapes("16384x2048=st:128:1").isEmpty)
        // Row-streaming entries: 128-512 threads, one split only.
        #expect(CUDABackend.parseForcedGEMVShapes("16384x2048=rs2:512:1") == ["16384x2048": GEMVChoice(suffix: "_rs2", threads: 512, splits: 1)])
        #expect(CUDABackend.parseForcedGEMVShapes("16384x2048=rs2:512:2,16384x2048=rs4:1024:1,16384x2048=rs3:256:1,1x1=rd2:256:1").isEmpty)
    }

    @Test func streamChoicesNameTheirUnroll() {
        #expect(GEMVChoice(suffix: "_rs4", threads: 256, splits: 1).streamUnroll == 4)
        #expect(GEMVChoice(suffix: "_c1", threads: 256, splits: 1).streamUnroll == nil)
        #expect(GEMVChoice(suffix: "", threads: 256, splits: 1).streamUnroll == nil)
        #expect(GEMVChoice(suffix: "", threads: 256, splits: 1).label == "c8")
        #expect(GEMVChoice.streamCandidates.count == 6)
        #expect(GEMVChoice.streamCandidates.allSatisfy { $0.streamUnroll != nil && $0.splits == 1 })
    }

    /// gemv_stream.cu's split (the kernel derives the same from blockDim, K and UNROLL).
    @Test func streamLayout() {
        // Gemma-2B LM head at 512 threads, 2 loads a lane: 4 segments a row, 4 warps a row, 4 rows
        // (16 KiB) a block.
        #expect(CUDABackend.streamGEMVLayout(outputs: 256_000, inputs: 2048, gated: false, threads: 512, unroll: 2) == (4, 4, 64_000))
        // Gate/up: 2 items (2 gate + 2 up rows) a block.
        #expect(CUDABackend.streamGEMVLayout(outputs: 16384, inputs: 2048, gated: true, threads: 512, unroll: 2) == (4, 2, 8192))
        // Down: 32 segments a row, all 16 warps on one row, each taking two segments.
        #expect(CUDABackend.streamGEMVLayout(outputs: 2048, inputs: 16384, gated: false, threads: 512, unroll: 2) == (16, 1, 2048))
        // Short rows: one segment, a warp a row; the last block partial.
        #expect(CUDABackend.streamGEMVLayout(outputs: 300, inputs: 72, gated: false, threads: 256, unroll: 8) == (1, 8, 38))
        #expect(CUDABackend.streamGEMVLayout(outputs: 100, inputs: 72, gated: true, threads: 256, unroll: 2) == (1, 4, 25))
        // Gate/up with long rows keeps a warp a row for the up half: 8 warps a row at 512 threads.
        #expect(CUDABackend.streamGEMVLayout(outputs: 2048, inputs: 16384, gated: true, threads: 512, unroll: 2) == (8, 1, 2048))
    }
}
