import Foundation
import Testing

/// `kiln build --random-weights` makes an engine without a tokenizer; `kiln generate ENGINE
/// --prompt-length N` runs it on random prompt ids, giving what --random-weights gives directly.
@Suite struct RandomEngineTests {
    @Test func randomWeightEngineMatchesRandomWeights() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-random-engine-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let build = try KilnProcess.run(["build", "--random-weights", "tiny-gemma", "-o", directory, "--no-autotune"])
        #expect(build.status == 0, "\(build.standardError)")
        let common = ["--prompt-length", "6", "--max-tokens", "5", "--temperature", "0", "--json", "--backend", "cpu"]
        let fromEngine = try KilnProcess.run(["generate", directory] + common)
        let direct = try KilnProcess.run(["generate", "--random-weights", "tiny-gemma"] + common)
        #expect(fromEngine.status == 0, "\(fromEngine.standardError)")
        func ids(_ output: String) throws -> [Int] {
            let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
            return (object?["prompt_ids"] as? [Int] ?? []) + (object?["output_ids"] as? [Int] ?? [])
        }
        #expect(try ids(fromEngine.standardOutput).count == 11)
        #expect(try ids(fromEngine.standardOutput) == (try ids(direct.standardOutput)))
        let both = try KilnProcess.run(["build", "x.gguf", "--random-weights", "tiny-gemma", "-o", directory])
        #expect(both.status == 1 && both.standardError.contains("exactly one"))
    }
}
