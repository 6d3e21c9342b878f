import Foundation
import KilnCore
import KilnFormats

/// Finds a checkpoint's own chat template: GGUF `tokenizer.chat_template`, or a Hugging Face
/// directory's `chat_template.jinja` / `tokenizer_config.json` `chat_template` (a string, or a
/// list of named templates of which "default" is used).
enum ChatTemplateSource {
    static func load(_ checkpoint: Checkpoint) throws -> String {
        switch checkpoint {
        case let .gguf(file):
            guard let template = file.metadata["tokenizer.chat_template"]?.stringValue else {
                throw KilnError.missingFile(path: file.path, reason: "--chat needs a chat template, and this GGUF has no tokenizer.chat_template")
            }
            return template
        case let .engine(directory, manifest, _) where manifest.tokenizerFile.hasSuffix(".gguf"):
            return try load(.gguf(try GGUFFile(path: (directory as NSString).appendingPathComponent(manifest.tokenizerFile))))
        case let .huggingFace(directory, _), let .engine(directory, _, _):
            let jinjaPath = (directory as NSString).appendingPathComponent("chat_template.jinja")
            if let data = FileManager.default.contents(atPath: jinjaPath) { return String(decoding: data, as: UTF8.self) }
            let configPath = (directory as NSString).appendingPathComponent("tokenizer_config.json")
            guard let data = FileManager.default.contents(atPath: configPath),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw KilnError.missingFile(path: configPath, reason: "--chat needs a chat template (chat_template.jinja or tokenizer_config.json)")
            }
            if let template = object["chat_template"] as? String { return template }
            if let named = object["chat_template"] as? [[String: Any]],
               let entry = named.first(where: { $0["name"] as? String == "default" }) ?? named.first,
               let template = entry["template"] as? String {
                return template
            }
            throw KilnError.missingFile(path: configPath, reason: "no \"chat_template\" for --chat")
        }
    }
}
