import Foundation
import Testing

@Suite struct GenerateCommandTests {
    struct Output: Decodable {
        let prompt_ids: [Int]
        let output_ids: [Int]
        let finish_reason: String
    }

    func generate(_ arguments: [String]) throws -> Output {
        let result = try KilnProcess.run(["generate"] + arguments + ["--json"])
        #expect(result.status == 0, "\(result.standardError)")
        return try JSONDecoder().decode(Output.self, from: Data(result.standardOutput.utf8))
    }

    /// --chat renders the model's own template; the ids equal llama.cpp 0.3.36's tokenization of
    /// jinja2 3.1.6's rendering of the same template (messages: one user turn, add_generation_prompt).
    @Test func chatUsesTheModelsOwnTemplate() throws {
        if let smollm = KilnProcess.model("smollm2-135m-instruct-q4_1.gguf") {
            let output = try generate([smollm, "What is 2+2?", "--chat", "--temperature", "0", "--max-tokens", "1"])
            #expect(output.prompt_ids == [1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182, 2, 198, 1, 4093, 198, 1780, 314, 216, 34, 27, 34, 47, 2, 198, 1, 520, 9531, 198])
        }
        if let qwen = KilnProcess.model("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf") {
            let output = try generate([qwen, "What is 2+2?", "--chat", "--temperature", "0", "--max-tokens", "1"])
            #expect(output.prompt_ids == [151644, 8948, 198, 2610, 525, 1207, 16948, 11, 3465, 553, 54364, 14817, 13, 1446, 525, 264, 10950, 17847, 13, 151645, 198, 151644, 872, 198, 3838, 374, 220, 17, 10, 17, 30, 151645, 198, 151644, 77091, 198])
        }
    }

    @Test func sameSeedSameOutput() throws {
        guard let smollm = KilnProcess.model("smollm2-135m-instruct-q4_1.gguf") else { return }
        let arguments = [smollm, "Tell me a story", "--temperature", "1.0", "--top-p", "0.95", "--seed", "42", "--max-tokens", "12", "--ignore-eos"]
        let first = try generate(arguments), second = try generate(arguments)
        #expect(first.output_ids == second.output_ids)
        #expect(first.output_ids.count == 12)
        #expect(first.finish_reason == "length")
    }

    @Test func stopsAtEndOfTurn() throws {
        guard let smollm = KilnProcess.model("smollm2-135m-instruct-q4_1.gguf") else { return }
        let output = try generate([smollm, "What is 2+2?", "--chat", "--temperature", "0", "--max-tokens", "64"])
        #expect(output.finish_reason == "stop")
        #expect(output.output_ids.last == 2) // <|im_end|>
    }

    /// Each bad input: exit status 1 and exactly one line on stderr saying what is wrong.
    @Test(arguments: [
        (["MODEL", ""], "prompt is empty"),
        (["MODEL", "hi", "--temperature=-1"], "temperature"),
        (["MODEL", "hi", "--top-p", "1.5"], "top-p"),
        (["MODEL", "hi", "--max-tokens", "0"], "max tokens"),
        (["MODEL", "hi", "--backend", "tpu"], "--backend tpu"),
        (["MODEL", "hi", "--system", "x"], "--system needs --chat"),
        (["--random-weights", "gemma-3b"], "unknown random-weights preset"),
        (["/nonexistent/model", "hi"], "/nonexistent/model"),
    ])
    func badInputIsOneLine(arguments: [String], message: String) throws {
        guard let smollm = KilnProcess.model("smollm2-135m-instruct-q4_1.gguf") else { return }
        let result = try KilnProcess.run(["generate"] + arguments.map { $0 == "MODEL" ? smollm : $0 })
        #expect(result.status == 1)
        #expect(result.standardError.contains(message), "\(result.standardError)")
        #expect(result.standardError.split(separator: "\n").count == 1, "\(result.standardError)")
    }

    @Test func promptLongerThanTheContextIsRefused() throws {
        guard let smollm = KilnProcess.model("smollm2-135m-instruct-q4_1.gguf") else { return }
        // ~10k tokens against SmolLM2's 8192-token context.
        let text = String(repeating: "alpha beta gamma delta ", count: 2600)
        let result = try KilnProcess.run(["generate", smollm, text, "--max-tokens", "1"])
        #expect(result.status == 1)
        #expect(result.standardError.contains("context is 8192"), "\(result.standardError)")
    }

    @Test func unknownModelTypeIsRefused() throws {
        let directory = NSTemporaryDirectory() + "kiln-bert-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = #"{"model_type": "bert", "hidden_size": 8}"#
        _ = FileManager.default.createFile(atPath: directory + "/config.json", contents: Data(config.utf8))
        _ = FileManager.default.createFile(atPath: directory + "/model.safetensors", contents: Data([2, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0x7D]))
        _ = FileManager.default.createFile(atPath: directory + "/tokenizer.json", contents: Data("{}".utf8))
        let result = try KilnProcess.run(["generate", directory, "hi"])
        #expect(result.status == 1)
        #expect(result.standardError.contains("model_type 'bert'"), "\(result.standardError)")
    }
}
