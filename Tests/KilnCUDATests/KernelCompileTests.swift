import Foundation
import KilnCore
import Testing
@testable import KilnCUDA

/// NVRTC is opened once per test process; nil when it is not installed (the tests are skipped).
let sharedCompiler: NVRTCCompiler? = try? NVRTCCompiler()

@Suite(.enabled(if: sharedCompiler != nil, "NVRTC not found (python3 -m pip install nvidia-cuda-nvrtc)"))
struct KernelCompileTests {
    @Test(arguments: ["sm_90a", "sm_80"])
    func everyKernelCompiles(architecture: String) throws {
        let compiler = try #require(sharedCompiler)
        // All files at once, as CUDAKernels.loadAll compiles them (NVRTC from several threads).
        let cubins = CUDAKernels.concurrentMap(KernelLibrary.sources) { source in
            try compiler.compile(source: source.text, fileName: source.fileName, headers: KernelLibrary.headers,
                                 options: KernelLibrary.options(architecture: architecture))
        }
        for (source, result) in zip(KernelLibrary.sources, cubins) {
            let cubin = try result.get()
            #expect(cubin.starts(with: [0x7F, 0x45, 0x4C, 0x46]), "\(source.fileName): not an ELF CUBIN")
            // Every kernel the launchers name is in the symbol table.
            for kernel in source.kernels {
                #expect(cubin.firstRange(of: Array(kernel.utf8) + [0]) != nil, "\(source.fileName) lacks \(kernel) for \(architecture)")
            }
        }
    }

    /// The experiment switches that change kernel code (KILN_KERNEL_DEFINES) compile too, so that a
    /// device call can A/B them: the skinny GEMM's mma.sync path on sm_90a (KILN_SKINNY_MMA_SYNC;
    /// the default there is wgmma), which must give other code than the default, and on sm_80,
    /// where both are the mma.sync path.
    @Test(arguments: ["KILN_SKINNY_MMA_SYNC"])
    func skinnySwitchCompiles(_ define: String) throws {
        let compiler = try #require(sharedCompiler)
        let source = try #require(KernelLibrary.source(defining: "skinny_gemm_bf16_n64_m64"))
        for architecture in ["sm_90a", "sm_80"] {
            var cubins: [[UInt8]] = []
            for defines in [[], [define]] {
                let cubin = try compiler.compile(source: source.text, fileName: source.fileName, headers: KernelLibrary.headers,
                                                 options: KernelLibrary.options(architecture: architecture, defines: defines))
                for kernel in source.kernels {
                    #expect(cubin.firstRange(of: Array(kernel.utf8) + [0]) != nil, "\(source.fileName) lacks \(kernel) for \(architecture)")
                }
                cubins.append(cubin)
            }
            if architecture == "sm_90a" {
                #expect(cubins[0] != cubins[1], "\(define) changed nothing on sm_90a")
            } else {
                #expect(cubins[0] == cubins[1], "\(define) changed the \(architecture) code, which has no wgmma path")
            }
        }
    }

    /// The concurrent map keeps the items' order and hands back each item's error in its place.
    @Test func concurrentMapKeepsOrderAndErrors() throws {
        struct Odd: Error { let value: Int }
        let results = CUDAKernels.concurrentMap(Array(0..<40)) { value -> Int in
            if value % 2 == 1 { throw Odd(value: value) }
            return value * value
        }
        #expect(results.count == 40)
        for (value, result) in results.enumerated() {
            switch result {
            case .success(let square): #expect(value % 2 == 0 && square == value * value)
            case .failure(let error): #expect((error as? Odd)?.value == value)
            }
        }
    }

    @Test func aCompileErrorCarriesNVRTCsLog() throws {
        let compiler = try #require(sharedCompiler)
        #expect {
            try compiler.compile(source: "extern \"C\" __global__ void broken() { undeclared_name = 1; }", fileName: "broken.cu",
                                 headers: [], options: KernelLibrary.options(architecture: "sm_80"))
        } throws: { error in
            let text = "\(error)"
            return text.contains("broken.cu") && text.contains("undeclared_name") && text.contains("NVRTC \(compiler.versionText)")
        }
    }

    @Test func compilerFromPipIsFoundBySitePackagesSearch() throws {
        let compiler = try #require(sharedCompiler)
        #expect(compiler.version.major >= 12)
        #expect(compiler.library.path.contains("nvrtc"))
    }

    @Test func compiledKernelsGoThroughTheCache() throws {
        let compiler = try #require(sharedCompiler)
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = try #require(KernelLibrary.source(defining: "rms_norm_f32"))
        let options = KernelLibrary.options(architecture: "sm_90a")
        let key = KernelCache.key(source: source.text, headers: KernelLibrary.headers, options: options,
                                  architecture: "sm_90a", compilerVersion: compiler.versionText)
        let compile = { try compiler.compile(source: source.text, fileName: source.fileName, headers: KernelLibrary.headers, options: options) }
        let cold = try KernelCache(directory: folder).cubin(key: key, compile: compile)
        let warm = try KernelCache(directory: folder).cubin(key: key) { Issue.record("compiled on a warm cache"); return [] }
        #expect(!cold.hit && warm.hit && warm.bytes == cold.bytes)
    }
}
