import Foundation
import KilnCore

/// A model checkpoint as a user names it: a GGUF file, or a Hugging Face directory with
/// config.json and safetensors weights. Gives the config and a format-neutral tensor list.
public enum Checkpoint: Sendable {
    case gguf(GGUFFile)
    case huggingFace(directory: String, weights: SafetensorsCheckpoint)
    /// A Kiln engine directory written by `kiln build` (kiln-engine.json + safetensors + tokenizer).
    case engine(directory: String, manifest: EngineManifest, weights: SafetensorsCheckpoint)

    /// Opens `path`: a `.gguf` file (by magic, not by name) or a directory with config.json.
    public static func open(_ path: String) throws -> Checkpoint {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw KilnError.missingFile(path: path, reason: "no such file or directory (expected a .gguf file or a Hugging Face model directory)")
        }
        if isDirectory.boolValue {
            let manifestPath = (path as NSString).appendingPathComponent(EngineManifest.fileName)
            if FileManager.default.fileExists(atPath: manifestPath) {
                let manifest = try EngineManifest.read(directory: path)
                return .engine(directory: path, manifest: manifest, weights: try SafetensorsCheckpoint(directory: path))
            }
            let configPath = (path as NSString).appendingPathComponent("config.json")
            guard FileManager.default.fileExists(atPath: configPath) else {
                throw KilnError.missingFile(path: configPath, reason: "not found: a Hugging Face model directory needs config.json")
            }
            return .huggingFace(directory: path, weights: try SafetensorsCheckpoint(directory: path))
        }
        let file = try MappedFile(path: path)
        if file.count >= 4, file.bytes.loadUnaligned(as: UInt32.self) == 0x4655_4747 {
            return .gguf(try GGUFFile(file: file))
        }
        if path.hasSuffix(".safetensors") {
            throw KilnError.invalidArgument("\(path): a lone safetensors file has no config; pass the model directory that holds it and config.json")
        }
        throw KilnError.invalidFile(path: path, reason: "neither a GGUF file (bad magic) nor a model directory")
    }

    /// Where the checkpoint was opened from.
    public var path: String {
        switch self {
        case let .gguf(file): return file.path
        case let .huggingFace(directory, _): return directory
        case let .engine(directory, _, _): return directory
        }
    }

    /// The model's architecture-neutral config.
    public func modelConfig() throws -> ModelConfig {
        switch self {
        case let .gguf(file): return try file.modelConfig()
        case let .huggingFace(directory, _): return try HuggingFaceConfig.load(directory: directory)
        case let .engine(_, manifest, _): return manifest.config
        }
    }

    /// Every tensor: name, storage type name ("BF16", "Q4_K"), row-major shape, stored bytes.
    public var tensorSummaries: [TensorSummary] {
        switch self {
        case let .gguf(file):
            return file.tensors.map { TensorSummary(name: $0.name, storageType: $0.type.name, shape: $0.rowMajorShape, byteCount: $0.byteCount) }
        case let .huggingFace(_, weights), let .engine(_, _, weights):
            return weights.tensors.map { TensorSummary(name: $0.name, storageType: $0.dtype.safetensorsName, shape: $0.shape, byteCount: $0.byteCount) }
        }
    }
}

/// A tensor described independently of its file format.
public struct TensorSummary: Sendable, Equatable {
    /// Name in the checkpoint.
    public let name: String
    /// "BF16", "F32", "Q4_K", ...
    public let storageType: String
    /// Row-major shape, outermost first.
    public let shape: [Int]
    /// Stored size in bytes.
    public let byteCount: Int

    /// Number of elements (parameters).
    public var elementCount: Int { shape.reduce(1, *) }
}
