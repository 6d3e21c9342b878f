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
    }
}
