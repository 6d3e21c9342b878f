import Foundation
import KilnBackend
import KilnCore
import KilnFormats
import KilnModels

/// `kiln build`: turns a checkpoint into an engine directory — weights converted to the engine
/// dtype and laid out as the kernels want them (Q/K/V fused, gate/up fused), the tokenizer, a
/// manifest with the source's fingerprint and the memory plan. Writes a new directory; never
/// touches the source.
public struct EngineBuilder {
    /// Build settings.
    public struct Options: Sendable {
        /// Matrix weights' dtype: `.bf16` (default) or `.f32` (a lossless reference engine).
        public var dtype: DType = .bf16
        /// Tokens per forward step the activation buffers are planned for.
        public var maxTokens = 8192
        /// Concurrent sequences the KV cache is planned for.
        public var maxBatch = 64
        /// Longest sequence the KV cache is planned for (0: the model's context length).
        public var maxSequenceLength = 0
        /// Largest weights file, bytes.
        public var shardBytes = 2_000_000_000
        /// Replace an existing engine directory.
        public var overwrite = false

        /// Default options.
        public init() {}
    }

    /// The Kiln version recorded in manifests.
    public static let kilnVersion = "0.1.0"

    /// Builds an engine from `checkpoint` into `output`, reporting progress lines to `log`.
    public static func build(checkpoint: Checkpoint, output: String, options: Options,
                             log: (String) -> Void = { _ in }) throws -> EngineManifest {
        guard options.dtype == .bf16 || options.dtype == .f32 else {
            throw KilnError.invalidArgument("--dtype \(options.dtype.rawValue): engines are built in bf16 or f32 (quantised engines come with the quantisation suite)")
        }
        if case .engine = checkpoint {
            throw KilnError.invalidArgument("\(checkpoint.path) is already an engine; build from a checkpoint")
        }
        try prepare(output: output, overwrite: options.overwrite)
        let provider = try CheckpointWeights(checkpoint: checkpoint)
        let format: String
        if case .gguf = checkpoint { format = "gguf" } else { format = "safetensors" }
        return try build(provider: provider, output: output, options: options,
                         source: .init(path: checkpoint.path, sha256: try SourceFingerprint.sha256(of: checkpoint), format: format),
                         log: log) { try copyTokenizer(from: checkpoint, to: $0) }
    }

    /// Builds an engine from any weights (a checkpoint's, or random weights of a published shape
    /// for benchmarks): `tokenizer` copies the tokenizer into the directory and names its file
    /// ("" for an engine without one, which then takes prompts as ids).
    public static func build(provider: any WeightProvider, output: String, options: Options, source: EngineManifest.Source,
                             log: (String) -> Void = { _ in }, tokenizer: (String) throws -> String) throws -> EngineManifest {
        guard options.dtype == .bf16 || options.dtype == .f32 else {
            throw KilnError.invalidArgument("--dtype \(options.dtype.rawValue): engines are built in bf16 or f32")
        }
        try prepare(output: output, overwrite: options.overwrite)
        let config = provider.config
        _ = try ModelArchitecture.forConfig(config)

        let plan = try EngineLayout(config: config, provider: provider, dtype: options.dtype)
        log("converting \(plan.tensors.count) tensors (\(Self.gigabytes(plan.totalBytes)) at \(options.dtype.safetensorsName)) ...")
        let files = plan.shards(maxBytes: options.shardBytes)
        var weightFiles: [String: String] = [:]
        for (index, shard) in files.enumerated() {
            let name = String(format: "weights-%05d-of-%05d.safetensors", index + 1, files.count)
            try SafetensorsStreamWriter.write(shard.map(\.declaration), to: (output as NSString).appendingPathComponent(name),
                                              metadata: ["format": "kiln"]) { position in
                try shard[position].bytes()
            }
            for tensor in shard { weightFiles[tensor.declaration.name] = name }
            log("wrote \(name)")
        }

        let tokenizerFile = try tokenizer(output)
        let maxSequence = options.maxSequenceLength > 0 ? min(options.maxSequenceLength, config.contextLength) : config.contextLength
        let memory = MemoryPlan(config: config, weightBytes: plan.totalBytes, maxTokens: options.maxTokens,
                                maxBatch: options.maxBatch, maxSequenceLength: maxSequence)
        let manifest = EngineManifest(
            kilnVersion: kilnVersion, config: config, dtype: options.dtype.safetensorsName.lowercased(),
            ggufConventions: provider.usesGGUFConventions,
            source: source,
            fusions: ["qkv", "gate_up"], weightFiles: weightFiles, memoryPlan: memory, tokenizerFile: tokenizerFile)
        try manifest.write(directory: output)
        return manifest
    }

    static func gigabytes(_ bytes: Int) -> String { String(format: "%.2f GB", Double(bytes) / 1e9) }

    /// Creates `output`, refusing to write into a non-empty directory that is not an engine
    /// (or an engine, unless `overwrite`).
    static func prepare(output: String, overwrite: Bool) throws {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: output, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw KilnError.invalidArgument("\(output) exists and is a file; give a new directory for the engine")
            }
            let contents = try manager.contentsOfDirectory(atPath: output)
            if !contents.isEmpty {
                guard contents.contains(EngineManifest.fileName) else {
                    throw KilnError.invalidArgument("\(output) is a non-empty directory that is not a Kiln engine; refusing to write into it")
                }
                guard overwrite else {
                    throw KilnError.invalidArgument("\(output) already holds an engine; pass --overwrite to replace it")
                }
                for entry in contents { try manager.removeItem(atPath: (output as NSString).appendingPathComponent(entry)) }
            }
        } else {
            try manager.createDirectory(atPath: output, withIntermediateDirectories: true)
        }
    }

    /// Copies the tokenizer: a GGUF source's tokenizer metadata as `tokenizer.gguf`, or a Hugging
    /// Face directory's tokenizer files. Returns the file the manifest names.
    static func copyTokenizer(from checkpoint: Checkpoint, to output: String) throws -> String {
        switch checkpoint {
        case let .gguf(file):
            try GGUFMetadataWriter.writeTokenizer(of: file, to: (output as NSString).appendingPathComponent("tokenizer.gguf"))
            return "tokenizer.gguf"
        case let .huggingFace(directory, _), let .engine(directory, _, _):
            let names = ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json", "config.json"]
            for name in names {
                let source = (directory as NSString).appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: source) else { continue }
                try FileManager.default.copyItem(atPath: source, toPath: (output as NSString).appendingPathComponent(name))
            }
            return "tokenizer.json"
        }
    }
}
