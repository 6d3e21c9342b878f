import Testing
@testable import KilnCUDA

/// The autotuner's weight rotation (GPU-free): the call's own weight first, then 256-byte aligned
/// stand-ins that lie inside the scratch and do not overlap, as many as fit (at most 64).
@Suite struct AutotuneWeightRotationTests {
    @Test(arguments: [1, 255, 256, 10_485_760, 67_108_864, 134_217_728, 150_000_000, 300_000_000])
    func copiesFitTheScratchWithoutOverlap(weightBytes: Int) {
        let weight: CUdeviceptr = 0x7000_0000_0000, scratch: CUdeviceptr = 0x1000_0000, scratchBytes = 150_994_944  // 3 x 48 MiB
        let rotation = MatmulEngine.weightRotation(weight: weight, weightBytes: weightBytes, scratch: scratch, scratchBytes: scratchBytes)
        #expect(rotation.first == weight)
        let copies = Array(rotation.dropFirst())
        for (index, address) in copies.enumerated() {
            #expect(address % 256 == 0)
            #expect(address >= scratch && Int(address - scratch) + weightBytes <= scratchBytes, "copy \(index) inside the scratch")
            if index > 0 { #expect(Int(address - copies[index - 1]) >= weightBytes, "copies do not overlap") }
        }
        // As many as fit, up to the cap: one more aligned copy would pass the end.
        let stride = (weightBytes + 255) / 256 * 256
        #expect(copies.count == MatmulEngine.maximumStandIns || copies.count * stride + weightBytes > scratchBytes)
        #expect(copies.count <= MatmulEngine.maximumStandIns)
    }

    @Test func noScratchMeansTheWeightAlone() {
        #expect(MatmulEngine.weightRotation(weight: 4096, weightBytes: 1 << 20, scratch: 0, scratchBytes: 0) == [4096])
        #expect(MatmulEngine.weightRotation(weight: 4096, weightBytes: 0, scratch: 8192, scratchBytes: 1 << 20) == [4096])
    }

    @Test func aQKVMatrixRotatesThroughAboutThreeL2s() {
        // Gemma-2B's fused QKV, 2560 x 2048 bf16 (10 MiB), against a 50 MiB L2: 15 copies + itself.
        let rotation = MatmulEngine.weightRotation(weight: 1 << 40, weightBytes: 2560 * 2048 * 2, scratch: 1 << 30, scratchBytes: 3 * 52_428_800)
        #expect(rotation.count == 16)
    }
}
