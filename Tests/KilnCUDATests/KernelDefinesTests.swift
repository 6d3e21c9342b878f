import Testing
@testable import KilnCUDA

/// `KILN_KERNEL_DEFINES` (GPU-free): the macro names that switch kernels back to earlier variants
/// for A/B timing, and nothing that could pass another option to NVRTC.
@Suite struct KernelDefinesTests {
    @Test func namesAreSplitAndTrimmed() {
        #expect(KernelLibrary.defines(from: "KILN_GEMV_NO_PRELOAD, KILN_LATE_TRIGGER") == ["KILN_GEMV_NO_PRELOAD", "KILN_LATE_TRIGGER"])
        #expect(KernelLibrary.defines(from: nil).isEmpty)
        #expect(KernelLibrary.defines(from: " ,, ").isEmpty)
    }

    @Test func nonIdentifiersAreDropped() {
        #expect(KernelLibrary.defines(from: "A=1,--use_fast_math,-DX,9LIVES,ok_2,é") == ["ok_2"])
    }

    @Test func optionsCarryTheDefinesAfterTheFixedOnes() {
        #expect(KernelLibrary.options(architecture: "sm_90a", defines: ["KILN_TRACE", "KILN_LATE_TRIGGER"])
                == ["--gpu-architecture=sm_90a", "-std=c++17", "-default-device", "-DKILN_TRACE", "-DKILN_LATE_TRIGGER"])
        #expect(KernelLibrary.options(architecture: "sm_80", defines: []) == ["--gpu-architecture=sm_80", "-std=c++17", "-default-device"])
    }
}
