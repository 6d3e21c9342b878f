import Foundation
import Testing

/// Autotuning as the commands see it, on whatever machine the tests run: `kiln build` tunes when a
/// GPU is usable and otherwise says in one line that it skipped, and CPU runs leave the autotune
/// cache alone.
@Suite struct AutotuneCommandTests {
    /// The small Llama checkpoint of the model tests.
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("KilnModelsTests/Fixtures/llama").path

    static func temporaryDirectory() -> String { NSTemporaryDirectory() + "kiln-autotune-\(UUID().uuidString)" }

    struct Manifest: Decodable { let autotune: [String: String] }

    static func manifest(_ directory: String) throws -> Manifest {
        let data = try #require(FileManager.default.contents(atPath: directory + "/kiln-engine.json"))
        return try JSONDecoder().decode(Manifest.self, from: data)
    }

    @Test func buildWithoutAutotuneRecordsNothing() throws {
        let root = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let result = try KilnProcess.run(["build", Self.fixture, "-o", root + "/engine", "--no-autotune"],
                                         environment: ["KILN_CACHE": root + "/cache"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(!result.standardError.contains("autotune"))
        #expect(try Self.manifest(root + "/engine").autotune.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: root + "/cache"))
    }

    /// Without a GPU: one line says autotuning was skipped and the engine is built as before.
    /// With one: the manifest holds choices for the GPU the build ran on, and so does the cache.
    @Test func buildAutotunesWhenItCanAndSaysSoWhenItCannot() throws {
        let root = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let result = try KilnProcess.run(["build", Self.fixture, "-o", root + "/engine", "--max-num-tokens", "64", "--max-batch-size", "4"],
                                         environment: ["KILN_CACHE": root + "/cache"])
        #expect(result.status == 0, "\(result.standardError)")
        let autotune = try Self.manifest(root + "/engine").autotune
        let lines = result.standardError.split(separator: "\n").filter { $0.hasPrefix("autotune:") }
        #expect(lines.count == 1, "\(result.standardError)")
        if lines.first?.hasPrefix("autotune: skipped") == true {
            #expect(autotune.isEmpty)
            #expect(result.standardOutput.contains("Memory plan"))
        } else {
            // 7 buckets (M 1...64) of 4 distinct layer shapes (q and o are both 64 x 64; k = v,
            // gate = up; down) + 3 buckets (M 1...4) of the LM head, all bf16.
            #expect(autotune.keys.filter { $0.hasPrefix("matmul bf16 ") }.count == 7 * 4 + 3, "\(autotune.keys.sorted())")
            #expect(autotune["device"] != nil && autotune["cublasLt"] != nil)
            let cached = try FileManager.default.contentsOfDirectory(atPath: root + "/cache/kernels")
            #expect(cached.contains { $0.hasPrefix("autotune-") && $0.hasSuffix(".json") })
        }
    }

    @Test func explicitAutotuneWithoutAGPUIsAnError() throws {
        let root = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let probe = try KilnProcess.run(["build", Self.fixture, "-o", root + "/probe", "--max-num-tokens", "4", "--max-batch-size", "1"],
                                        environment: ["KILN_CACHE": root + "/cache"])
        guard probe.standardError.contains("autotune: skipped") else { return }  // a GPU is here
        let result = try KilnProcess.run(["build", Self.fixture, "-o", root + "/engine", "--autotune"],
                                         environment: ["KILN_CACHE": root + "/cache"])
        #expect(result.status == 1)
        #expect(result.standardError.hasPrefix("kiln: error: --autotune needs a usable GPU"))
        #expect(!FileManager.default.fileExists(atPath: root + "/engine"))  // refused before converting
    }

    /// `--backend cpu` never opens the GPU, so the autotune cache is neither read nor written:
    /// not even its directory appears.
    @Test func cpuRunsLeaveTheAutotuneCacheAlone() throws {
        let root = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let build = try KilnProcess.run(["build", Self.fixture, "-o", root + "/engine", "--no-autotune"])
        #expect(build.status == 0, "\(build.standardError)")
        for arguments in [["generate", "--random-weights", "tiny-llama", "--backend", "cpu", "--max-tokens", "2"],
                          ["bench", "latency", root + "/engine", "--backend", "cpu", "--input", "4", "--output", "2", "--runs", "1"]] {
            let result = try KilnProcess.run(arguments, environment: ["KILN_CACHE": root + "/cache"])
            #expect(result.status == 0, "\(arguments): \(result.standardError)")
        }
        #expect(!FileManager.default.fileExists(atPath: root + "/cache"))
    }
}
