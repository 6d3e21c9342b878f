import Foundation
import KilnCore
import KilnFormats

extension Checkpoint {
    /// The checkpoint's own tokenizer: GGUF `tokenizer.ggml.*` metadata, or a Hugging Face
    /// directory's `tokenizer.json` (+ `tokenizer_config.json` for the BOS rule and chat template).
    public func loadTokenizer() throws -> any Tokenizer {
        switch self {
        case let .gguf(file):
            guard file.metadata["tokenizer.ggml.tokens"] != nil else {
                throw KilnError.missingFile(path: file.path, reason: "no tokenizer in this GGUF (tokenizer.ggml.tokens is absent)")
            }
            return try TokenizerLoader.load(gguf: file)
        case let .engine(directory, manifest, _):
            let path = (directory as NSString).appendingPathComponent(manifest.tokenizerFile)
            if manifest.tokenizerFile.hasSuffix(".gguf") {
                return try TokenizerLoader.load(gguf: try GGUFFile(path: path))
            }
            let configPath = (directory as NSString).appendingPathComponent("tokenizer_config.json")
            return try TokenizerLoader.load(
                tokenizerJSON: path,
                tokenizerConfig: FileManager.default.fileExists(atPath: configPath) ? configPath : nil)
        case let .huggingFace(directory, _):
            let tokenizerPath = (directory as NSString).appendingPathComponent("tokenizer.json")
            guard FileManager.default.fileExists(atPath: tokenizerPath) else {
                throw KilnError.missingFile(path: tokenizerPath, reason: "not found: Kiln reads the tokenizer from tokenizer.json")
            }
            let configPath = (directory as NSString).appendingPathComponent("tokenizer_config.json")
            return try TokenizerLoader.load(
                tokenizerJSON: tokenizerPath,
                tokenizerConfig: FileManager.default.fileExists(atPath: configPath) ? configPath : nil)
        }
    }
}
