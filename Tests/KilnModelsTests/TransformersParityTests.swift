import Foundation
import KilnBackend
import KilnCPU
import KilnFormats
import Testing
@testable import KilnModels

/// The CPU backend reproduces Hugging Face transformers' logits for tiny random-weight models of
/// every family (fixtures made by scripts/make_parity_fixtures.py, versions in each logits.json).
@Suite struct TransformersParityTests {
    struct Reference: Decodable {
        let transformers_version: String
        let prompts: [[Int]]
        let positions: [[Int]]
        let logits: [[[Float]]]
        let greedy: [Int]
    }

    static func fixture(_ family: String) throws -> (String, Reference) {
        let root = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let directory = root.appendingPathComponent(family).path
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/logits.json"))
        return (directory, try JSONDecoder().decode(Reference.self, from: data))
    }

    @Test(arguments: ["llama", "qwen2", "gemma", "gemma2", "gemma3"])
    func logitsMatchTransformers(family: String) throws {
        let (directory, reference) = try Self.fixture(family)
        let backend = CPUBackend()
        let model = try DecoderModel(provider: try CheckpointWeights(checkpoint: try Checkpoint.open(directory)), backend: backend)
        for (promptIndex, prompt) in reference.prompts.enumerated() {
            let blockSize = 4 // small blocks so block tables with several entries are exercised
            let blocks = (prompt.count + blockSize - 1) / blockSize
            let cache = try backend.makeCache(model.cacheShape(blocks: blocks + 1, blockSize: blockSize))
            // A scrambled block table: pages need not be contiguous.
            let table = Array((0...blocks).reversed())
            let logits = try model.forward(.single(tokens: prompt, startPosition: 0, blockTable: table, blockSize: blockSize, allLogits: true), cache: cache)
            for (index, position) in reference.positions[promptIndex].enumerated() {
                let expected = reference.logits[promptIndex][index]
                let actual = logits[position]
                let range = (expected.max()! - expected.min()!)
                let error = zip(expected, actual).map { abs($0 - $1) }.max()!
                // The issue asks for 1e-3 of the range; 1e-4 also catches erf-vs-tanh GELU (~1e-3 abs).
                #expect(error < 1e-4 * range, "\(family) prompt \(promptIndex) position \(position): max abs error \(error), logit range \(range)")
            }
        }
    }

    @Test(arguments: ["llama", "qwen2", "gemma", "gemma2", "gemma3"])
    func greedyTokensMatchTransformers(family: String) throws {
        let (directory, reference) = try Self.fixture(family)
        let backend = CPUBackend()
        let model = try DecoderModel(provider: try CheckpointWeights(checkpoint: try Checkpoint.open(directory)), backend: backend)
        let prompt = reference.prompts.max { $0.count < $1.count }!
        let blockSize = 16
        let table = Array(0..<((prompt.count + reference.greedy.count) / blockSize + 1))
        let cache = try backend.makeCache(model.cacheShape(blocks: table.count, blockSize: blockSize))
        var logits = try model.forward(.single(tokens: prompt, startPosition: 0, blockTable: table, blockSize: blockSize), cache: cache)[0]
        var generated: [Int] = []
        for step in 0..<reference.greedy.count {
            let next = logits.indices.max { logits[$0] < logits[$1] }!
            generated.append(next)
            logits = try model.forward(.single(tokens: [next], startPosition: prompt.count + step, blockTable: table, blockSize: blockSize), cache: cache)[0]
        }
        #expect(generated == reference.greedy, "\(family)")
    }
}
