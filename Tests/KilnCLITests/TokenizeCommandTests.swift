import Foundation
import Testing

@Suite struct TokenizeCommandTests {
    func ids(_ arguments: [String]) throws -> [Int] {
        let result = try KilnProcess.run(["tokenize"] + arguments + ["--json"])
        #expect(result.status == 0, "\(result.standardError)")
        return try JSONDecoder().decode([Int].self, from: Data(result.standardOutput.utf8))
    }

    /// Ids as llama.cpp 0.3.36 gives them (llama_tokenize with parse_special = true, no BOS).
    @Test func realTokenizersFromOutside() throws {
        if let smollm = KilnProcess.model("smollm2-135m-instruct-q4_1.gguf") {
            #expect(try ids([smollm, "--text", "Hi there"]) == [26843, 665])
            #expect(try ids([smollm, "--text", "<|im_start|>user"]) == [1, 4093])
        }
        if let gemma = KilnProcess.model("gemma-3-270m-q4_k_m.gguf") {
            let withBOS = try ids([gemma, "--text", "The capital of France is", "--add-bos"])
            #expect(withBOS == [2, 818, 5279, 529, 7001, 563])
        }
        if let qwen = KilnProcess.model("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf") {
            #expect(try ids([qwen, "--text", "def fibonacci(n):"]) == [750, 75698, 1445, 1648])
        }
    }

    @Test func readsTextFromAFileExactly() throws {
        guard let smollm = KilnProcess.model("smollm2-135m-instruct-q4_1.gguf") else { return }
        let path = NSTemporaryDirectory() + "kiln-text-\(UUID().uuidString).txt"
        _ = FileManager.default.createFile(atPath: path, contents: Data("Hi there".utf8))
        #expect(try ids([smollm, "--file", path]) == [26843, 665])
    }

    @Test func badUsageFails() throws {
        let none = try KilnProcess.run(["tokenize", "/nonexistent.gguf"])
        #expect(none.status != 0)
        #expect(none.standardError.contains("--text or --file"))
        let missing = try KilnProcess.run(["tokenize", "/nonexistent.gguf", "--text", "x"])
        #expect(missing.status == 1)
        #expect(missing.standardError.contains("/nonexistent.gguf"))
    }
}
