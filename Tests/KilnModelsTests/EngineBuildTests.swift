import Foundation
import KilnBackend
import KilnBuild
import KilnCore
import KilnCPU
import KilnFormats
import Testing
@testable import KilnModels

/// `kiln build` engines: fused layouts read back exactly, bf16 close to the source, the manifest
/// records the source, and existing directories are protected.
@Suite struct EngineBuildTests {
    static func temporaryDirectory() -> String {
        NSTemporaryDirectory() + "kiln-engine-\(UUID().uuidString)"
    }

    static func logits(_ path: String, prompt: [Int]) throws -> [[Float]] {
        let backend = CPUBackend()
        let model = try DecoderModel(provider: try CheckpointWeights(checkpoint: try Checkpoint.open(path)), backend: backend)
        let cache = try backend.makeCache(model.cacheShape(blocks: 8, blockSize: 16))
        return try model.forward(.single(tokens: prompt, startPosition: 0, blockTable: Array(0..<8), blockSize: 16, allLogits: true), cache: cache)
    }

    /// An f32 engine holds the same values, only fused: logits are bit-identical to the source's.
    @Test(arguments: ["llama", "qwen2", "gemma", "gemma2", "gemma3"])
    func f32EngineIsLossless(family: String) throws {
        let (source, reference) = try TransformersParityTests.fixture(family)
        let output = Self.temporaryDirectory()
        var options = EngineBuilder.Options()
        options.dtype = .f32
        let manifest = try EngineBuilder.build(checkpoint: try Checkpoint.open(source), output: output, options: options)
        #expect(manifest.fusions == ["qkv", "gate_up"])
        #expect(manifest.config == (try Checkpoint.open(source).modelConfig()))
        let prompt = reference.prompts[1]
        #expect(try Self.logits(output, prompt: prompt) == Self.logits(source, prompt: prompt))
        // The engine really is fused: no separate q/k/v or gate/up tensors.
        let names = try Checkpoint.open(output).tensorSummaries.map(\.name)
        #expect(names.contains(EngineTensorNames.qkv(0)) && names.contains(EngineTensorNames.gateUp(0)))
        #expect(!names.contains { $0.contains("q_proj") || $0.contains("gate_proj") })
    }

    @Test func bf16EngineIsCloseAndRecordsItsSource() throws {
        let (source, reference) = try TransformersParityTests.fixture("llama")
        let output = Self.temporaryDirectory()
        let manifest = try EngineBuilder.build(checkpoint: try Checkpoint.open(source), output: output, options: .init())
        #expect(manifest.dtype == "bf16")
        #expect(manifest.source.sha256.count == 64)
        let prompt = reference.prompts[2]
        let engine = try Self.logits(output, prompt: prompt), original = try Self.logits(source, prompt: prompt)
        for (a, b) in zip(engine, original) {
            let range = b.max()! - b.min()!
            let error = zip(a, b).map { abs($0 - $1) }.max()!
            #expect(error < 0.05 * range, "bf16 weights moved a logit by \(error) of a range \(range)")
            #expect(error > 0, "bf16 rounding should change something")
        }
        // Same source, same fingerprint.
        let again = try EngineBuilder.build(checkpoint: try Checkpoint.open(source), output: Self.temporaryDirectory(), options: .init())
        #expect(again.source.sha256 == manifest.source.sha256)
        // The memory plan counts the weights written.
        let stored = try Checkpoint.open(output).tensorSummaries.reduce(0) { $0 + $1.byteCount }
        #expect(manifest.memoryPlan.weightBytes == stored)
    }

    @Test func existingDirectoriesAreProtected() throws {
        let (source, _) = try TransformersParityTests.fixture("qwen2")
        let output = Self.temporaryDirectory()
        _ = try EngineBuilder.build(checkpoint: try Checkpoint.open(source), output: output, options: .init())
        #expect(throws: KilnError.self) { try EngineBuilder.build(checkpoint: try Checkpoint.open(source), output: output, options: .init()) }
        var overwrite = EngineBuilder.Options()
        overwrite.overwrite = true
        _ = try EngineBuilder.build(checkpoint: try Checkpoint.open(source), output: output, options: overwrite)
        let foreign = Self.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: foreign + "/notes.txt", contents: Data("mine".utf8))
        #expect(throws: KilnError.self) { try EngineBuilder.build(checkpoint: try Checkpoint.open(source), output: foreign, options: overwrite) }
        #expect(FileManager.default.fileExists(atPath: foreign + "/notes.txt"))
        #expect(throws: KilnError.self) { try EngineBuilder.build(checkpoint: try Checkpoint.open(output), output: Self.temporaryDirectory(), options: .init()) }
    }
}
