import Foundation
import Testing

@Suite struct InspectCommandTests {
    /// Real parameter counts of the three real models (sums of their GGUF tensors' elements).
    @Test(arguments: [
        ("smollm2-135m-instruct-q4_1.gguf", "llama", 134_515_008),
        ("gemma-3-270m-q4_k_m.gguf", "gemma3", 268_098_176),
        ("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "qwen2", 1_777_088_000),
    ])
    func reportsRealModels(name: String, architecture: String, parameters: Int) throws {
        guard let path = KilnProcess.model(name) else { return }
        let result = try KilnProcess.run(["inspect", path, "--json"])
        #expect(result.status == 0, "\(result.standardError)")
        let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        #expect(object?["architecture"] as? String == architecture)
        #expect(object?["parameters"] as? Int == parameters)
        #expect((object?["bf16_weight_bytes"] as? Int) == parameters * 2)
    }

    @Test func badInputIsOneLineAndNonZeroExit() throws {
        let missing = try KilnProcess.run(["inspect", "/nonexistent/model.gguf"])
        #expect(missing.status == 1)
        #expect(missing.standardError.contains("/nonexistent/model.gguf"))
        #expect(missing.standardError.split(separator: "\n").count == 1)

        let junk = NSTemporaryDirectory() + "kiln-junk-\(UUID().uuidString).gguf"
        _ = FileManager.default.createFile(atPath: junk, contents: Data("not a model at all".utf8))
        let bad = try KilnProcess.run(["inspect", junk])
        #expect(bad.status == 1)
        #expect(bad.standardError.contains("bad magic"))

        let emptyDirectory = NSTemporaryDirectory() + "kiln-empty-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: emptyDirectory, withIntermediateDirectories: true)
        let noConfig = try KilnProcess.run(["inspect", emptyDirectory])
        #expect(noConfig.status == 1)
        #expect(noConfig.standardError.contains("config.json"))
    }
}
