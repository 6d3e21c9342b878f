import Foundation
import KilnCore
import Testing
@testable import KilnFormats

/// The engine manifest's `autotune` record is written and read back as it is, and only engine
/// directories are read as engines.
@Suite struct EngineManifestTests {
    static func manifest(autotune: [String: String]) -> EngineManifest {
        let config = ModelConfig(modelType: "llama", vocabularySize: 32, hiddenSize: 8, intermediateSize: 16, layerCount: 1,
                                 attentionHeads: 2, kvHeads: 1, headDim: 4, contextLength: 64, rmsNormEpsilon: 1e-5,
                                 ropeTheta: 10_000, tieWordEmbeddings: true, hiddenActivation: "silu")
        return EngineManifest(kilnVersion: "0.1.0", config: config, dtype: "bf16", ggufConventions: false,
                              source: .init(path: "/m", sha256: String(repeating: "0", count: 64), format: "safetensors"),
                              fusions: ["qkv", "gate_up"], weightFiles: ["embedding.weight": "weights-00001-of-00001.safetensors"],
                              autotune: autotune,
                              memoryPlan: MemoryPlan(config: config, weightBytes: 1024, maxTokens: 16, maxBatch: 2, maxSequenceLength: 64),
                              tokenizerFile: "tokenizer.json")
    }

    @Test func autotuneRecordSurvivesWriteAndRead() throws {
        let directory = TestFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let record = ["device": "NVIDIA H100 80GB HBM3", "cublasLt": "130100",
                      "matmul bf16 m64 n2560 k2048": "id=21 tile=20 stages=21 splitk=1 ws=0 us=12.345 first_us=13.210 rank=2 of=8 m=64 algo=00ff",
                      "matmul bf16 m1 n7 k577 bias": "id=1 tile=2 stages=3 splitk=4 ws=1024 us=1.000 first_us=2.000 rank=0 of=8 m=1 algo=ab"]
        let manifest = Self.manifest(autotune: record)
        try manifest.write(directory: directory)
        let read = try EngineManifest.read(directory: directory)
        #expect(read.autotune == record)
        #expect(read == manifest)
        #expect(EngineManifest.readIfEngine(at: directory)?.autotune == record)
        // Rewriting with a new record (what `kiln build` does after tuning) replaces it.
        var tuned = manifest
        tuned.autotune = ["device": "d", "cublasLt": "1"]
        try tuned.write(directory: directory)
        #expect(try EngineManifest.read(directory: directory).autotune == tuned.autotune)
    }

    @Test func onlyEngineDirectoriesAreReadAsEngines() throws {
        let directory = TestFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(EngineManifest.readIfEngine(at: directory) == nil)  // an empty directory
        let file = TestFiles.write([1, 2, 3], name: "model.gguf")
        #expect(EngineManifest.readIfEngine(at: file) == nil)
        #expect(EngineManifest.readIfEngine(at: directory + "/missing") == nil)
        try Data("{".utf8).write(to: URL(fileURLWithPath: directory + "/" + EngineManifest.fileName))
        #expect(EngineManifest.readIfEngine(at: directory) == nil)  // damaged: Checkpoint.open reports it
        try Self.manifest(autotune: [:]).write(directory: directory)
        #expect(EngineManifest.readIfEngine(at: directory)?.autotune == [:])
    }
}
