import Foundation
import KilnCore

/// `kiln-engine.json`: what `kiln build` wrote and how to read it back. An engine directory holds
/// this manifest, weights in safetensors files laid out as the kernels want them (fused QKV and
/// gate/up, bf16), and the tokenizer (`tokenizer.json` + `tokenizer_config.json`, or
/// `tokenizer.gguf` holding only a GGUF source's tokenizer metadata).
public struct EngineManifest: Codable, Sendable, Equatable {
    /// The manifest's file name inside an engine directory.
    public static let fileName = "kiln-engine.json"
    /// Version of this layout; readers refuse newer ones.
    public static let currentFormatVersion = 1

    public var formatVersion: Int
    /// The Kiln version that built it.
    public var kilnVersion: String
    /// The model's config (architecture, shapes, RoPE, windows, caps).
    public var config: ModelConfig
    /// Element type of the matrix weights ("bf16").
    public var dtype: String
    /// Weights keep GGUF's conventions (Llama Q/K permuted for interleaved RoPE; Gemma norms
    /// stored as 1 + w), as the source had them: no value is rewritten on the way.
    public var ggufConventions: Bool
    /// The source checkpoint: path as given, and a fingerprint of its files.
    public var source: Source
    /// Weight fusions applied ("qkv", "gate_up").
    public var fusions: [String]
    /// Tensor name -> weights file holding it.
    public var weightFiles: [String: String]
    /// Kernel choices per matrix-product shape bucket, filled by autotuning on the GPU.
    public var autotune: [String: String]
    /// The memory plan printed at build time.
    public var memoryPlan: MemoryPlan
    /// The tokenizer file in the engine directory ("tokenizer.json" or "tokenizer.gguf").
    public var tokenizerFile: String

    /// Where an engine came from.
    public struct Source: Codable, Sendable, Equatable {
        public var path: String
        /// SHA-256 over the source's files (names, sizes and contents), hex.
        public var sha256: String
        /// "gguf" or "safetensors".
        public var format: String

        /// Describes a source.
        public init(path: String, sha256: String, format: String) {
            self.path = path
            self.sha256 = sha256
            self.format = format
        }
    }

    /// Creates a manifest.
    public init(kilnVersion: String, config: ModelConfig, dtype: String, ggufConventions: Bool, source: Source,
                fusions: [String], weightFiles: [String: String], autotune: [String: String] = [:],
                memoryPlan: MemoryPlan, tokenizerFile: String) {
        self.formatVersion = Self.currentFormatVersion
        self.kilnVersion = kilnVersion
        self.config = config
        self.dtype = dtype
        self.ggufConventions = ggufConventions
        self.source = source
        self.fusions = fusions
        self.weightFiles = weightFiles
        self.autotune = autotune
        self.memoryPlan = memoryPlan
        self.tokenizerFile = tokenizerFile
    }

    /// Reads `directory/kiln-engine.json`, refusing newer format versions.
    public static func read(directory: String) throws -> EngineManifest {
        let path = (directory as NSString).appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KilnError.missingFile(path: path, reason: "not found: not a Kiln engine directory")
        }
        let manifest: EngineManifest
        do {
            manifest = try JSONDecoder().decode(EngineManifest.self, from: data)
        } catch {
            throw KilnError.invalidFile(path: path, reason: "not a valid engine manifest (\(error))")
        }
        guard manifest.formatVersion <= currentFormatVersion else {
            throw KilnError.unsupported(path: path, reason: "engine format version \(manifest.formatVersion); this Kiln reads up to \(currentFormatVersion): rebuild the engine")
        }
        return manifest
    }

    /// The manifest of `path` when it is an engine directory with a readable manifest, else nil
    /// (a checkpoint file or directory, or a damaged engine, which `Checkpoint.open` reports).
    public static func readIfEngine(at path: String) -> EngineManifest? {
        let manifestPath = (path as NSString).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: manifestPath) else { return nil }
        return try? read(directory: path)
    }

    /// Writes the manifest into `directory`.
    public func write(directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        guard FileManager.default.createFile(atPath: path, contents: try encoder.encode(self)) else {
            throw KilnError.invalidFile(path: path, reason: "cannot write")
        }
    }
}

/// Device memory an engine needs, as `kiln build` prints it (TensorRT-LLM's breakdown).
public struct MemoryPlan: Codable, Sendable, Equatable {
    /// Weight bytes on the device.
    public var weightBytes: Int
    /// Activation bytes for one step of `maxTokens` tokens, buffers reused across layers.
    public var activationBytes: Int
    /// KV cache bytes for `maxBatch` sequences of `maxSequenceLength` tokens.
    public var kvCacheBytes: Int
    /// Tokens per forward step the activations are sized for.
    public var maxTokens: Int
    /// Concurrent sequences the KV cache is sized for.
    public var maxBatch: Int
    /// Longest sequence the KV cache is sized for.
    public var maxSequenceLength: Int

    /// Weights + activations + KV cache.
    public var totalBytes: Int { weightBytes + activationBytes + kvCacheBytes }

    /// Plans memory for `config` with `weightBytes` of weights, bf16 activations and KV cache,
    /// fp32 logits. Activations: the layer's working set (residual, normed, q, k, v, attention
    /// output, projection, gate, up) for `maxTokens` rows, allocated once and reused by every
    /// layer, plus the logits of `maxBatch` rows.
    public init(config: ModelConfig, weightBytes: Int, maxTokens: Int, maxBatch: Int, maxSequenceLength: Int) {
        let elementBytes = 2
        let qWidth = config.attentionHeads * config.headDim, kvWidth = config.kvHeads * config.headDim
        let perToken = 3 * config.hiddenSize + 2 * qWidth + 2 * kvWidth + 2 * config.intermediateSize
        self.weightBytes = weightBytes
        activationBytes = maxTokens * perToken * elementBytes + maxBatch * config.vocabularySize * 4
        kvCacheBytes = maxBatch * maxSequenceLength * config.layerCount * 2 * kvWidth * elementBytes
        self.maxTokens = maxTokens
        self.maxBatch = maxBatch
        self.maxSequenceLength = maxSequenceLength
    }
}
