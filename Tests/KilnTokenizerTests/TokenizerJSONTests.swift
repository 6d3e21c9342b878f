import Foundation
import KilnCore
import KilnFormats
@testable import KilnTokenizer
import Testing

/// `tokenizer.json` loading, checked on small fixtures cut from real vocabularies by
/// `scripts/make_tokenizer_json_fixture.py`: each is written by Hugging Face `tokenizers` and,
/// as a twin, by gguf-py; both must load to the same tokenizer and reproduce llama.cpp's ids
/// (and `tokenizers`' ids, which always match added tokens, with special parsing on).
@Suite("tokenizer.json loading")
struct TokenizerJSONTests {
    static func directory(_ name: String) -> URL {
        ByteLevelTestData.fixtures.appendingPathComponent("tokenizer-json/\(name)")
    }

    /// A fixture's `reference.json`.
    struct Reference: Decodable {
        var strings: [String]
        var llamaCpp: [[Int]]
        var tokenizers: [[Int]]

        enum CodingKeys: String, CodingKey {
            case strings, tokenizers
            case llamaCpp = "llama_cpp"
        }

        init(_ name: String) throws {
            let url = TokenizerJSONTests.directory(name).appendingPathComponent("reference.json")
            self = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        }
    }

    @Test("tokenizer.json, its GGUF twin, llama.cpp and tokenizers agree",
          arguments: [("qwen2", PreTokenizer.qwen2), ("llama3", .llama3), ("smollm", .smollm)])
    func twins(name: String, preTokenizer: PreTokenizer) throws {
        let directory = Self.directory(name)
        let fromJSON = try TokenizerLoader.load(tokenizerJSON: directory.appendingPathComponent("tokenizer.json").path,
                                                tokenizerConfig: nil)
        let fromGGUF = try TokenizerLoader.load(gguf: GGUFFile(path: directory.appendingPathComponent("vocab.gguf").path))
        let byteLevel = try #require(fromJSON as? ByteLevelBPETokenizer)
        #expect(byteLevel.preTokenizer == preTokenizer)
        #expect(fromJSON.vocabularySize == fromGGUF.vocabularySize)
        for id in 0..<fromJSON.vocabularySize {
            #expect(fromJSON.tokenString(id) == fromGGUF.tokenString(id))
        }
        #expect(fromJSON.specialTokens.stopIDs == fromGGUF.specialTokens.stopIDs)

        let reference = try Reference(name)
        var agreeing = 0
        for (index, string) in reference.strings.enumerated() {
            let ids = fromJSON.encode(string, addSpecialTokens: false, parseSpecial: false)
            // GGUF has no lstrip flag, so the twins differ exactly where "<mask>" absorbs a space.
            if !string.contains("<mask>") {
                #expect(ids == fromGGUF.encode(string, addSpecialTokens: false, parseSpecial: false))
                #expect(ids == reference.llamaCpp[index], "\(name): \(string.debugDescription)")
            }
            let parsed = fromJSON.encode(string, addSpecialTokens: false, parseSpecial: true)
            #expect(parsed == reference.tokenizers[index], "\(name) vs tokenizers: \(string.debugDescription)")
            if parsed == reference.tokenizers[index] { agreeing += 1 }
        }
        print("\(name): tokenizer.json agrees with tokenizers on \(agreeing)/\(reference.strings.count) strings")
    }

    @Test("BOS comes from the post-processor, and tokenizer_config.json overrides it")
    func bosRules() throws {
        let path = Self.directory("llama3").appendingPathComponent("tokenizer.json").path
        let tokenizer = try TokenizerLoader.load(tokenizerJSON: path, tokenizerConfig: nil)
        let bos = try #require(tokenizer.tokenID("<|begin_of_text|>"))
        #expect(tokenizer.specialTokens.bos == bos && tokenizer.specialTokens.addBOS)
        #expect(tokenizer.encode("x").first == bos)

        let config = try TemporaryFile(contents: #"{"add_bos_token": false, "eos_token": {"content": "<|eot_id|>"}}"#)
        let configured = try TokenizerLoader.load(tokenizerJSON: path, tokenizerConfig: config.path)
        #expect(!configured.specialTokens.addBOS)
        #expect(configured.encode("x").first != bos)
        #expect(configured.specialTokens.eos == configured.tokenID("<|eot_id|>"))
        #expect(configured.specialTokens.stopIDs.contains(try #require(configured.tokenID("<|end_of_text|>"))))
    }

    @Test("missing and malformed files are errors that name the file")
    func errors() throws {
        let missing = "/nonexistent/kiln/tokenizer.json"
        #expect(throws: KilnError.missingFile(path: missing, reason: "no such file")) {
            try TokenizerLoader.load(tokenizerJSON: missing, tokenizerConfig: nil)
        }
        let garbage = try TemporaryFile(contents: "{\"model\": ")
        #expect(throws: KilnError.invalidFile(path: garbage.path, reason: "not valid JSON (10 bytes)")) {
            try TokenizerLoader.load(tokenizerJSON: garbage.path, tokenizerConfig: nil)
        }
        let wordPiece = try TemporaryFile(contents: #"{"model": {"type": "WordPiece", "vocab": {}}}"#)
        #expect(throws: KilnError.unsupported(path: wordPiece.path, reason: "tokenizer model type 'WordPiece' (Kiln reads BPE)")) {
            try TokenizerLoader.load(tokenizerJSON: wordPiece.path, tokenizerConfig: nil)
        }
        let oddRegex = try TemporaryFile(contents: """
            {"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
             "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
               {"type": "Split", "pattern": {"Regex": "\\\\w+"}, "behavior": "Isolated"},
               {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]}}
            """)
        #expect(throws: KilnError.unsupported(path: oddRegex.path, reason: #"pre-tokenizer Split regex \w+"#)) {
            try TokenizerLoader.load(tokenizerJSON: oddRegex.path, tokenizerConfig: nil)
        }
        let badConfig = try TemporaryFile(contents: #"{"bos_token": "<nope>"}"#)
        let path = Self.directory("qwen2").appendingPathComponent("tokenizer.json").path
        #expect(throws: KilnError.self) {
            try TokenizerLoader.load(tokenizerJSON: path, tokenizerConfig: badConfig.path)
        }
    }

    @Test("spellings keep U+FEFF, which Foundation's JSONSerialization drops on Linux")
    func byteOrderMark() throws {
        struct File: Encodable {
            struct Model: Encodable { var type = "BPE"; var vocab: [String: Int]; var merges: [[String]] = [] }
            struct Added: Encodable { var id: Int; var content: String; var special = false }
            struct Pre: Encodable { var type = "ByteLevel"; var add_prefix_space = false; var use_regex = true }
            var model: Model
            var added_tokens: [Added]
            var pre_tokenizer = Pre()
        }
        var vocab: [String: Int] = [:]
        for (byte, scalar) in ByteLevelAlphabet.scalarForByte.enumerated() { vocab[String(scalar)] = byte }
        let file = File(model: .init(vocab: vocab), added_tokens: [.init(id: 256, content: "\u{FEFF}<x>")])
        let json = try TemporaryFile(contents: String(decoding: try JSONEncoder().encode(file), as: UTF8.self))
        let tokenizer = try TokenizerLoader.load(tokenizerJSON: json.path, tokenizerConfig: nil)
        #expect(tokenizer.tokenString(256) == "\u{FEFF}<x>")
        #expect(tokenizer.encode("a\u{FEFF}<x>", addSpecialTokens: false, parseSpecial: false) == [Int(Character("a").asciiValue!), 256])
    }

    @Test("BPE with byte fallback and Metaspace becomes a SentencePiece-style tokenizer")
    func sentencePiece() throws {
        var vocab: [String: Int] = ["<unk>": 0, "<s>": 1, "</s>": 2]
        for byte in 0..<256 { vocab[String(format: "<0x%02X>", byte)] = 3 + byte }
        for (offset, piece) in ["▁", "a", "b", "▁a", "ab"].enumerated() { vocab[piece] = 259 + offset }
        let json = try JSONSerialization.data(withJSONObject: [
            "added_tokens": [["id": 0, "content": "<unk>", "special": true], ["id": 1, "content": "<s>", "special": true],
                             ["id": 2, "content": "</s>", "special": true]],
            "normalizer": NSNull(),
            "pre_tokenizer": ["type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false],
            "post_processor": ["type": "TemplateProcessing",
                               "single": [["SpecialToken": ["id": "<s>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]]],
            "model": ["type": "BPE", "vocab": vocab, "merges": ["▁ a", "a b"], "byte_fallback": true, "unk_token": "<unk>"],
        ] as [String: Any])
        let file = try TemporaryFile(contents: String(decoding: json, as: UTF8.self))
        let (vocabulary, _) = try TokenizerLoader.vocabulary(tokenizerJSON: file.path, tokenizerConfig: nil)
        #expect(vocabulary.model == "llama" && vocabulary.addSpacePrefix)
        #expect(vocabulary.kinds[3 + 0x0A] == .byte && vocabulary.kinds[1] == .control)
        #expect(vocabulary.specialTokens.bos == 1 && vocabulary.specialTokens.addBOS)
        let tokenizer = try TokenizerLoader.load(tokenizerJSON: file.path, tokenizerConfig: nil)
        #expect(tokenizer is SentencePieceTokenizer)
        #expect(tokenizer.encode("a b") == [1, 262, 259, 261])
        #expect(tokenizer.encode("\n", addSpecialTokens: false, parseSpecial: false) == [259, 3 + 0x0A])
    }
}

/// A file in the temporary directory, removed when the value is released.
final class TemporaryFile {
    let path: String

    convenience init(contents: String) throws {
        try self.init(data: Data(contents.utf8), suffix: "json")
    }

    init(data: Data, suffix: String) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-\(UUID().uuidString).\(suffix)").path
        try data.write(to: URL(fileURLWithPath: path))
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
