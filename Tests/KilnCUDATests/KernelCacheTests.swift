import Foundation
import KilnCore
import Testing
@testable import KilnCUDA

@Suite struct KernelCacheTests {
    /// A byte string that passes the cache's ELF check.
    let fakeCubin: [UInt8] = [0x7F, 0x45, 0x4C, 0x46] + [UInt8](repeating: 7, count: 100)

    @Test func sha256MatchesTheStandardVectors() {
        func digest(_ text: String) -> String {
            var hash = SHA256()
            hash.update(text)
            return hash.hexDigest()
        }
        #expect(digest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(digest(String(repeating: "a", count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func keyChangesWithEveryInput() {
        let headers = [(name: "h.cuh", text: "header")]
        let base = KernelCache.key(source: "src", headers: headers, options: ["-std=c++17"], architecture: "sm_90a", compilerVersion: "13.0")
        #expect(base.count == 64)
        #expect(base == KernelCache.key(source: "src", headers: headers, options: ["-std=c++17"], architecture: "sm_90a", compilerVersion: "13.0"))
        let variants = [
            KernelCache.key(source: "src2", headers: headers, options: ["-std=c++17"], architecture: "sm_90a", compilerVersion: "13.0"),
            KernelCache.key(source: "src", headers: [(name: "h.cuh", text: "header2")], options: ["-std=c++17"], architecture: "sm_90a", compilerVersion: "13.0"),
            KernelCache.key(source: "src", headers: headers, options: ["-std=c++20"], architecture: "sm_90a", compilerVersion: "13.0"),
            KernelCache.key(source: "src", headers: headers, options: ["-std=c++17"], architecture: "sm_80", compilerVersion: "13.0"),
            KernelCache.key(source: "src", headers: headers, options: ["-std=c++17"], architecture: "sm_90a", compilerVersion: "12.9"),
            // Field boundaries matter: "sr" + "c..." is not "src" + "...".
            KernelCache.key(source: "sr", headers: [(name: "ch.cuh", text: "header")], options: ["-std=c++17"], architecture: "sm_90a", compilerVersion: "13.0"),
        ]
        #expect(Set(variants + [base]).count == variants.count + 1)
    }

    @Test func secondCacheOnTheSameFolderCompilesNothing() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var compiles = 0
        let compile = { () -> [UInt8] in compiles += 1; return self.fakeCubin }

        let cold = KernelCache(directory: folder + "/kernels")
        let first = try cold.cubin(key: "k1", compile: compile)
        #expect(!first.hit && first.bytes == fakeCubin && compiles == 1)
        #expect(FileManager.default.fileExists(atPath: folder + "/kernels/k1.cubin"))
        #expect(try cold.cubin(key: "k1", compile: compile).hit)

        let warm = KernelCache(directory: folder + "/kernels")
        let second = try warm.cubin(key: "k1", compile: compile)
        #expect(second.hit && second.bytes == fakeCubin && compiles == 1)
        #expect(warm.statistics.hits == 1 && warm.statistics.misses == 0)

        // Another key misses; a damaged file is recompiled and replaced.
        #expect(try !warm.cubin(key: "k2", compile: compile).hit)
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: folder + "/kernels/k1.cubin"))
        #expect(try !warm.cubin(key: "k1", compile: compile).hit)
        #expect(compiles == 3)
        #expect(try KernelCache(directory: folder + "/kernels").cubin(key: "k1", compile: compile).hit)
        // No temporary files left behind.
        let names = try FileManager.default.contentsOfDirectory(atPath: folder + "/kernels")
        #expect(names.sorted() == ["k1.cubin", "k2.cubin"])
    }

    @Test func aCacheWithoutAFolderAlwaysCompiles() throws {
        var compiles = 0
        let cache = KernelCache(directory: nil)
        _ = try cache.cubin(key: "k") { compiles += 1; return fakeCubin }
        _ = try cache.cubin(key: "k") { compiles += 1; return fakeCubin }
        #expect(compiles == 2)
    }

    @Test func defaultFolderFollowsTheEnvironment() {
        #expect(KernelCache.defaultDirectory(environment: ["KILN_CACHE": "/c", "HOME": "/h"]) == "/c/kernels")
        #expect(KernelCache.defaultDirectory(environment: ["XDG_CACHE_HOME": "/x", "HOME": "/h"]) == "/x/kiln/kernels")
        #expect(KernelCache.defaultDirectory(environment: ["HOME": "/h"]) == "/h/.cache/kiln/kernels")
    }

    @Test func architectureNames() {
        #expect(CUDADevice.architecture(major: 9, minor: 0) == "sm_90a")
        #expect(CUDADevice.architecture(major: 8, minor: 0) == "sm_80")
        #expect(CUDADevice.architecture(major: 8, minor: 9) == "sm_89")
        #expect(CUDADevice.architecture(major: 12, minor: 0) == "sm_120")
    }
}
