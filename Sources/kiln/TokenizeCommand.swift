import ArgumentParser
import Foundation
import KilnCore
import KilnFormats
import KilnTokenizer

/// `kiln tokenize MODEL [--text T | --file F] [--json] [--add-bos]`: the model's token ids for
/// a text. `--json` prints exactly one JSON array of ids (used to check Kiln from outside).
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize", abstract: "Print the token ids of a text under a model's tokenizer.")

    @Argument(help: "A .gguf file or a Hugging Face model directory.")
    var model: String

    @Option(help: "The text to tokenize.")
    var text: String?

    @Option(help: "Read the text from this file (raw bytes as UTF-8, nothing stripped).")
    var file: String?

    @Flag(help: "Print a JSON array of token ids.")
    var json = false

    @Flag(help: "Prepend the model's BOS token.")
    var addBos = false

    @Flag(help: "Treat special-token text such as <|im_start|> as plain characters.")
    var noParseSpecial = false

    func validate() throws {
        guard (text == nil) != (file == nil) else {
            throw ValidationError("give exactly one of --text or --file")
        }
    }

    func run() throws {
        try reportingErrors {
            let input: String
            if let file {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw KilnError.missingFile(path: file, reason: "cannot read the text file")
                }
                input = String(decoding: data, as: UTF8.self)
            } else {
                input = text ?? ""
            }
            let tokenizer = try Checkpoint.open(model).loadTokenizer()
            var ids = tokenizer.encode(input, addSpecialTokens: false, parseSpecial: !noParseSpecial)
            if addBos {
                guard let bos = tokenizer.specialTokens.bos else {
                    throw KilnError.invalidArgument("\(model): --add-bos given but the tokenizer has no BOS token")
                }
                ids.insert(bos, at: 0)
            }
            if json {
                print("[" + ids.map(String.init).joined(separator: ", ") + "]")
            } else {
                for id in ids {
                    let piece = tokenizer.tokenString(id) ?? "?"
                    print(String(id).padding(toLength: 8, withPad: " ", startingAt: 0) + piece.debugDescription)
                }
                print("\(ids.count) tokens")
            }
        }
    }
}
