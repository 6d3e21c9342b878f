import Foundation
import Testing

/// The three real GGUF models generate the reference greedy tokens (references made once by
/// scripts/make_real_model_reference.py and committed with how they were produced), checked
/// from outside through `kiln generate --temperature 0 --json`.
@Suite struct RealModelGreedyTests {
    struct Reference: Decodable {
        struct Model: Decodable {
            let file: String
            let cases: [Case]
        }
        struct Case: Decodable {
            let prompt: String
            let prompt_ids: [Int]
            let transformers_greedy: [Int]?
            let llamacpp_greedy: [Int]?
        }
        let models: [Model]
    }

    struct Output: Decodable {
        let prompt_ids: [Int]
        let output_ids: [Int]
    }

    static func reference() throws -> Reference? {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../KilnModelsTests/Fixtures/real-models.json").standardizedFileURL.path
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    /// Length of the common prefix of two id lists.
    static func agreement(_ a: [Int], _ b: [Int]) -> Int {
        zip(a, b).prefix { $0 == $1 }.count
    }

    @Test func greedyTokensMatchTheReference() throws {
        let reference = try #require(try Self.reference())
        for model in reference.models {
            guard let path = KilnProcess.model(model.file) else { continue }
            for testCase in model.cases {
                let expected = try #require(testCase.transformers_greedy ?? testCase.llamacpp_greedy)
                let result = try KilnProcess.run(["generate", path, testCase.prompt, "--temperature", "0",
                                                  "--max-tokens", "\(expected.count)", "--ignore-eos", "--json"])
                #expect(result.status == 0, "\(result.standardError)")
                let output = try JSONDecoder().decode(Output.self, from: Data(result.standardOutput.utf8))
                #expect(output.prompt_ids == testCase.prompt_ids, "\(model.file): prompt ids for \(testCase.prompt.debugDescription)")
                let agreed = Self.agreement(output.output_ids, expected)
                // All 32 agree today (the issue asks for 16); Kiln's fp32 maths over dequantised
                // weights is what the transformers reference computes.
                #expect(agreed == expected.count, "\(model.file) \(testCase.prompt.debugDescription): only the first \(agreed) greedy tokens agree\n kiln \(output.output_ids)\n ref  \(expected)")
            }
        }
    }
}
