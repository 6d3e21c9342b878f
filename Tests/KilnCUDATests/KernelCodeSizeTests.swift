import Foundation
import Testing
@testable import KilnCUDA

/// The decode attention kernels run once per warp and are bound by instruction fetch (ncu, H100,
/// batch 1: 6.9 of ~12.6 cycles an issued instruction waiting for instructions; session-7 results):
/// a variant that doubled their code made decode 1-2% slower. These bounds (about 1.3 times the
/// code of commit 3a4f032, 16 bytes an sm_90 instruction) fail a change that grows it by much, so
/// that such a change comes with a GPU measurement and a new bound.
@Suite(.enabled(if: sharedCompiler != nil, "NVRTC not found (python3 -m pip install nvidia-cuda-nvrtc)"))
struct KernelCodeSizeTests {
    /// Bytes of a kernel's code (its `.text.NAME` section) in an ELF CUBIN, nil when absent.
    static func textBytes(of kernel: String, in cubin: [UInt8]) -> Int? {
        func integer(_ offset: Int, _ size: Int) -> Int {
            (0..<size).reduce(0) { $0 | Int(cubin[offset + $1]) << (8 * $1) }  // little-endian
        }
        guard cubin.count > 64, cubin.starts(with: [0x7F, 0x45, 0x4C, 0x46]), cubin[4] == 2 else { return nil }  // ELF64
        let sectionTable = integer(0x28, 8), entrySize = integer(0x3A, 2), count = integer(0x3C, 2), namesIndex = integer(0x3E, 2)
        guard sectionTable + count * entrySize <= cubin.count, namesIndex < count else { return nil }
        let namesOffset = integer(sectionTable + namesIndex * entrySize + 0x18, 8)
        let wanted = Array(".text.\(kernel)".utf8) + [0]
        for index in 0..<count {
            let header = sectionTable + index * entrySize
            let name = namesOffset + integer(header, 4)
            guard name + wanted.count <= cubin.count else { continue }
            if Array(cubin[name..<(name + wanted.count)]) == wanted { return integer(header + 0x20, 8) }
        }
        return nil
    }

    @Test func decodeAttentionCodeStaysSmall() throws {
        let compiler = try #require(sharedCompiler)
        // (file, kernel, most bytes): 4,688 / 4,176 / 3,112 SASS instructions at 3a4f032.
        let bounds = [("attention_decode_input.cu", "attention_decode_input_bf16_h256_g4", 96 << 10),
                      ("attention_decode_input.cu", "attention_decode_input_bf16_h256_g8", 88 << 10),
                      ("attention_decode_mma.cu", "attention_decode_mma_bf16_h256", 64 << 10)]
        for (file, kernel, bound) in bounds {
            let source = try #require(KernelLibrary.sources.first { $0.fileName == file })
            let cubin = try compiler.compile(source: source.text, fileName: source.fileName, headers: KernelLibrary.headers,
                                             options: KernelLibrary.options(architecture: "sm_90a"))
            let bytes = try #require(Self.textBytes(of: kernel, in: Array(cubin)), "\(kernel): no .text section")
            #expect(bytes > 16 << 10, "\(kernel): \(bytes) bytes of code is implausibly small")
            #expect(bytes <= bound, "\(kernel): \(bytes) bytes of code (\(bytes / 16) instructions), bound \(bound)")
        }
    }
}
