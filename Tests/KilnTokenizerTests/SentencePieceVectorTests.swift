import Foundation
import KilnFormats
import Testing
import KilnTokenizer

/// llama.cpp's tokenizer vectors for the SentencePiece-style vocabularies (`ggml-vocab-NAME.gguf`
/// with `.inp` strings and `.out` ids, no BOS, no special parsing), plus behaviour checks on a
/// small hand-made vocabulary whose expected ids can be worked out by hand.
@Suite("SentencePiece vectors")
struct SentencePieceVectorTests {
    @Test("llama.cpp vectors", .enabled(if: SentencePieceFixtures.vectorsAvailable),
          arguments: ["llama-spm", "gemma-4"])
    func vectors(name: String) throws {
        let tokenizer = try SentencePieceFixtures.vectorTokenizer(name)
        let cases = try SentencePieceFixtures.readVectors(name)
        #expect(cases.count == 46)
        var failures: [String] = []
        for (text, expected) in cases {
            let ids = tokenizer.encode(text, addSpecialTokens: false, parseSpecial: false)
            if ids != expected {
                failures.append("\(text.debugDescription): got \(ids), expected \(expected)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(cases.count) differ:\n\(failures.joined(separator: "\n"))")
    }

    @Test("decode inverts encode on the vectors", .enabled(if: SentencePieceFixtures.vectorsAvailable),
          arguments: ["llama-spm", "gemma-4"])
    func roundTrip(name: String) throws {
        let tokenizer = try SentencePieceFixtures.vectorTokenizer(name)
        for (text, _) in try SentencePieceFixtures.readVectors(name) {
            let ids = tokenizer.encode(text, addSpecialTokens: true, parseSpecial: false)
            #expect(tokenizer.decode(ids, skipSpecialTokens: true) == text)
            // tokenBytes concatenated is decode without the prefix rule.
            let bytes = ids.flatMap { tokenizer.specialTokens.bos == $0 ? [] : tokenizer.tokenBytes($0) }
            let joined = String(decoding: bytes, as: UTF8.self)
            #expect(joined == (tokenizer.addSpacePrefix && !text.isEmpty ? " " + text : text))
        }
    }

    @Test("the vocabularies pick the expected algorithm")
    func algorithms() throws {
        guard SentencePieceFixtures.vectorsAvailable else { return }
        let llama = try SentencePieceFixtures.vectorTokenizer("llama-spm")
        #expect(llama.algorithm == .scoreMerge)
        #expect(llama.addSpacePrefix)
        let gemma4 = try SentencePieceFixtures.vectorTokenizer("gemma-4")
        #expect(gemma4.algorithm == .rankMerge)
        #expect(gemma4.splitsAtNewlines)
        #expect(!gemma4.addSpacePrefix)
        #expect(gemma4.vocabularySize == 262_144)
    }

    // MARK: A hand-made vocabulary

    /// Pieces with scores chosen so the merge order is known: "us"+"er" wins over "use"+"r".
    static let toy: SentencePieceTokenizer = {
        var tokens = ["<unk>", "<s>", "</s>", "<start_of_turn>", "<end_of_turn>"]
        var kinds: [TokenKind] = [.unknown, .control, .control, .control, .control]
        var scores: [Float] = [0, 0, 0, 0, 0]
        for byte in 0..<256 {
            tokens.append(String(format: "<0x%02X>", byte))
            kinds.append(.byte)
            scores.append(0)
        }
        let pieces: [(String, Float)] = [
            ("▁", -1), ("u", -2), ("s", -2), ("e", -2), ("r", -2), ("H", -2), ("i", -2),
            ("us", -3), ("er", -4), ("use", -5), ("user", -6), ("▁Hi", -7), ("Hi", -8), ("▁u", -9),
            ("é", -2),
        ]
        for (piece, score) in pieces {
            tokens.append(piece)
            kinds.append(.normal)
            scores.append(score)
        }
        let vocabulary = TokenizerVocabulary(
            tokens: tokens, kinds: kinds, scores: scores,
            specialTokens: SpecialTokens(bos: 1, eos: 2, endOfGeneration: [4], unknown: 0, addBOS: true),
            model: "llama", preTokenizer: "default", addSpacePrefix: false)
        return try! SentencePieceTokenizer(vocabulary: vocabulary)
    }()

    /// The id of a piece of the toy vocabulary.
    static func toyID(_ piece: String) -> Int { toy.tokenID(piece)! }

    @Test("special tokens are parsed only when asked")
    func specialTokens() {
        let tokenizer = Self.toy
        let text = "<start_of_turn>user\nHi<end_of_turn>"
        let parsed = tokenizer.encode(text, addSpecialTokens: false, parseSpecial: true)
        let newline = Self.toyID("<0x0A>")
        #expect(parsed == [3, Self.toyID("user"), newline, Self.toyID("Hi"), 4])
        #expect(tokenizer.decode(parsed, skipSpecialTokens: false) == text)
        #expect(tokenizer.decode(parsed, skipSpecialTokens: true) == "user\nHi")

        // Unparsed, "<start_of_turn>" is plain text: its characters are not pieces, so bytes.
        let plain = tokenizer.encode(text, addSpecialTokens: false, parseSpecial: false)
        #expect(!plain.contains(3) && !plain.contains(4))
        #expect(plain.prefix(2) == [Self.toyID("<0x3C>"), Self.toyID("s")])
        #expect(tokenizer.decode(plain, skipSpecialTokens: true) == text)

        let withBOS = tokenizer.encode(text, addSpecialTokens: true, parseSpecial: true)
        #expect(withBOS == [1] + parsed)
    }

    @Test("score order decides merges; unknown characters fall back to bytes")
    func scoreMergesAndByteFallback() {
        let tokenizer = Self.toy
        // "us"(-3) merges before "se"(absent) and "er"(-4); then "us"+"er" -> "user"(-6).
        #expect(tokenizer.encode("user", addSpecialTokens: false, parseSpecial: false) == [Self.toyID("user")])
        // A space becomes "▁"; "▁Hi" (-7) is preferred over leaving "▁" + "Hi" once "Hi" exists,
        // because "▁H" is no piece: "H"+"i" -> "Hi", then "▁"+"Hi" -> "▁Hi".
        #expect(tokenizer.encode(" Hi", addSpecialTokens: false, parseSpecial: false) == [Self.toyID("▁Hi")])
        // "ß" (C3 9F) is no piece: two byte tokens. "é" precomposed is a piece; "e" + U+0301 is
        // not the same bytes, so the accent falls back to bytes (no Unicode normalisation).
        #expect(tokenizer.encode("ß", addSpecialTokens: false, parseSpecial: false)
                == [Self.toyID("<0xC3>"), Self.toyID("<0x9F>")])
        #expect(tokenizer.encode("\u{e9}", addSpecialTokens: false, parseSpecial: false) == [Self.toyID("é")])
        #expect(tokenizer.encode("e\u{301}", addSpecialTokens: false, parseSpecial: false)
                == [Self.toyID("e"), Self.toyID("<0xCC>"), Self.toyID("<0x81>")])
        #expect(tokenizer.tokenBytes(Self.toyID("<0xCC>")) == [0xCC])
        #expect(tokenizer.tokenBytes(Self.toyID("▁Hi")) == Array(" Hi".utf8))
        #expect(tokenizer.tokenBytes(3) == Array("<start_of_turn>".utf8))
        #expect(tokenizer.tokenString(Self.toyID("▁u")) == "▁u")
        #expect(tokenizer.tokenString(-1) == nil && tokenizer.tokenString(100_000) == nil)
        #expect(tokenizer.tokenID("e\u{301}") == nil)
    }

    @Test("decode joins byte tokens into UTF-8 and drops the prefix space once")
    func decodeRules() throws {
        let tokenizer = Self.toy
        let bytes = [Self.toyID("<0xE2>"), Self.toyID("<0x82>"), Self.toyID("<0xAC>")]
        #expect(tokenizer.decode(bytes, skipSpecialTokens: true) == "€")
        #expect(tokenizer.decode([Self.toyID("▁Hi"), Self.toyID("▁Hi")], skipSpecialTokens: true) == " Hi Hi")

        var vocabulary = TokenizerVocabulary(
            tokens: ["<unk>", "<s>", "▁Hi", "▁", "H", "i", "Hi"],
            kinds: [.unknown, .control, .normal, .normal, .normal, .normal, .normal],
            scores: [0, 0, -1, -2, -2, -2, -3], specialTokens: SpecialTokens(bos: 1, unknown: 0, addBOS: true),
            model: "llama", preTokenizer: "default", addSpacePrefix: true)
        let prefixed = try SentencePieceTokenizer(vocabulary: vocabulary)
        #expect(prefixed.encode("Hi", addSpecialTokens: true, parseSpecial: false) == [1, 2])
        #expect(prefixed.decode([1, 2], skipSpecialTokens: true) == "Hi")
        #expect(prefixed.decode([1, 2], skipSpecialTokens: false) == "<s>Hi")
        #expect(prefixed.decode([2, 2], skipSpecialTokens: true) == "Hi Hi")
        // The prefix follows every special token, as in llama.cpp.
        #expect(prefixed.encode("Hi<s>Hi", addSpecialTokens: false, parseSpecial: true) == [2, 1, 2])

        vocabulary.merges = ["H i"]
        let ranked = try SentencePieceTokenizer(vocabulary: vocabulary)
        #expect(ranked.algorithm == .rankMerge)
        // No merge joins "▁" and "Hi": rank mode does not look at scores.
        #expect(ranked.encode("Hi", addSpecialTokens: false, parseSpecial: false) == [3, 6])
    }

    @Test("malformed vocabularies throw")
    func malformed() {
        let vocabulary = TokenizerVocabulary(
            tokens: ["a", "b"], kinds: [.normal], specialTokens: SpecialTokens(),
            model: "llama", preTokenizer: "default", addSpacePrefix: true)
        #expect(throws: (any Error).self) { try SentencePieceTokenizer(vocabulary: vocabulary) }
    }
}

/// Where the shared test data lives and how to read it; shared by the SentencePiece suites.
enum SentencePieceFixtures {
    /// The package root, found from this file's path (Tests/KilnTokenizerTests/<file>).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `$KILN_TOKENIZER_VECTORS`, else `../shared/data/tokenizers` next to the package.
    static let vectorsDirectory: URL = {
        if let path = ProcessInfo.processInfo.environment["KILN_TOKENIZER_VECTORS"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return packageRoot.appendingPathComponent("../shared/data/tokenizers").standardizedFileURL
    }()

    /// Whether the vector files are there.
    static var vectorsAvailable: Bool {
        FileManager.default.fileExists(atPath: vectorsDirectory.appendingPathComponent("ggml-vocab-llama-spm.gguf").path)
    }

    /// `$KILN_MODELS`, nil when unset.
    static var modelsDirectory: URL? {
        guard let path = ProcessInfo.processInfo.environment["KILN_MODELS"], !path.isEmpty else { return nil }
        return URL(fileURLWithPath: path)
    }

    /// This suite's fixture folder.
    static let fixturesDirectory = packageRoot.appendingPathComponent("Tests/KilnTokenizerTests/Fixtures/spm")

    /// Vector tokenizers, loaded once per test process (the Gemma 4 one takes a while).
    private static let llamaSPM = Result { try tokenizer(gguf: vectorsDirectory.appendingPathComponent("ggml-vocab-llama-spm.gguf").path) }
    private static let gemma4 = Result { try tokenizer(gguf: vectorsDirectory.appendingPathComponent("ggml-vocab-gemma-4.gguf").path) }

    /// The tokenizer of `ggml-vocab-NAME.gguf`.
    static func vectorTokenizer(_ name: String) throws -> SentencePieceTokenizer {
        switch name {
        case "llama-spm": return try llamaSPM.get()
        case "gemma-4": return try gemma4.get()
        default: throw SentencePieceTestError("no vector tokenizer \(name)")
        }
    }

    /// `(text, ids)` pairs of `ggml-vocab-NAME.gguf.inp/.out`, split as llama.cpp's
    /// test-tokenizer-0 splits them.
    static func readVectors(_ name: String) throws -> [(String, [Int])] {
        let base = vectorsDirectory.appendingPathComponent("ggml-vocab-\(name).gguf")
        let texts = try splitCorpus(Data(contentsOf: base.appendingPathExtension("inp")))
        let lines = String(decoding: try Data(contentsOf: base.appendingPathExtension("out")), as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= texts.count else { throw SentencePieceTestError("\(name): \(texts.count) inputs, \(lines.count) outputs") }
        return zip(texts, lines).map { text, line in
            (text, line.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) })
        }
    }

    /// Splits a `.inp` file at "\n__ggml_vocab_test__\n", byte-exactly.
    static func splitCorpus(_ data: Data) -> [String] {
        let raw = [UInt8](data)
        let separator = Array("\n__ggml_vocab_test__\n".utf8)
        var texts: [String] = []
        var start = 0
        var position = 0
        while position <= raw.count - separator.count {
            if raw[position] == separator[0], Array(raw[position..<position + separator.count]) == separator {
                texts.append(String(decoding: raw[start..<position], as: UTF8.self))
                position += separator.count
                start = position
            } else {
                position += 1
            }
        }
        if start < raw.count { texts.append(String(decoding: raw[start...], as: UTF8.self)) }
        return texts
    }

    /// A SentencePiece tokenizer from a GGUF file's tokenizer metadata, read by
    /// `TokenizerLoader` (llama.cpp's defaults and end-of-generation rules).
    static func tokenizer(gguf path: String) throws -> SentencePieceTokenizer {
        try SentencePieceTokenizer(vocabulary: TokenizerLoader.vocabulary(gguf: GGUFFile(path: path)))
    }
}

/// A failed precondition of a test, with a message.
struct SentencePieceTestError: Error, CustomStringConvertible {
    /// What went wrong.
    let description: String
    /// Creates an error with `description`.
    init(_ description: String) { self.description = description }
}
