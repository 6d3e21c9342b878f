import Foundation
import KilnCore
import KilnFormats
@testable import KilnTokenizer
import Testing

/// Where the byte-level tests find their data: llama.cpp's vectors (`KILN_TOKENIZER_VECTORS`,
/// default `../shared/data/tokenizers` beside the package), real models (`KILN_MODELS`, tests
/// skipped when unset) and this target's fixtures (next to this file).
enum ByteLevelTestData {
    /// The package root, three levels above this file.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// llama.cpp's tokenizer vectors.
    static var vectorsDirectory: URL {
        if let path = ProcessInfo.processInfo.environment["KILN_TOKENIZER_VECTORS"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return packageRoot.appendingPathComponent("../shared/data/tokenizers").standardizedFileURL
    }

    /// Directory of the real GGUF models, nil when `KILN_MODELS` is unset.
    static var modelsDirectory: URL? {
        guard let path = ProcessInfo.processInfo.environment["KILN_MODELS"], !path.isEmpty else { return nil }
        return URL(fileURLWithPath: path)
    }

    /// This target's fixtures.
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Whether the vectors directory holds the vocabulary `name`.
    static func hasVocabulary(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: vocabularyPath(name))
    }

    static func vocabularyPath(_ name: String) -> String {
        vectorsDirectory.appendingPathComponent("ggml-vocab-\(name).gguf").path
    }

    /// Loads a vocabulary GGUF's tokenizer once per process (they take a moment to index).
    static func tokenizer(_ name: String) throws -> any Tokenizer {
        try cache.tokenizer(path: vocabularyPath(name))
    }

    /// Loads a real model's tokenizer.
    static func modelTokenizer(_ file: String) throws -> any Tokenizer {
        let directory = try #require(modelsDirectory)
        return try cache.tokenizer(path: directory.appendingPathComponent(file).path)
    }

    private static let cache = TokenizerCache()

    /// Test strings and expected ids as llama.cpp's `test-tokenizer-0` reads them: the `.inp`
    /// file split at "\n__ggml_vocab_test__\n" (so each string loses only the separator's
    /// newline), the `.out` file one stripped line of space-separated ids per string.
    static func vectors(_ name: String) throws -> [(text: String, ids: [Int])] {
        let base = vocabularyPath(name)
        let input = try String(contentsOfFile: base + ".inp", encoding: .utf8)
        let output = try String(contentsOfFile: base + ".out", encoding: .utf8)
        var texts: [String] = []
        var rest = Substring(input)
        let separator = "\n__ggml_vocab_test__\n"
        while !rest.isEmpty {
            guard let range = rest.range(of: separator) else {
                texts.append(String(rest))
                break
            }
            texts.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        var lines = output.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        try #require(texts.count == lines.count, "\(name): \(texts.count) strings but \(lines.count) id lines")
        return zip(texts, lines).map { text, line in
            (text, line.split(separator: " ").compactMap { Int($0) })
        }
    }
}

/// One tokenizer per path for the whole test run (tests run in parallel; loading is the slow part).
final class TokenizerCache: @unchecked Sendable {
    private let lock = NSLock()
    private var tokenizers: [String: any Tokenizer] = [:]

    func tokenizer(path: String) throws -> any Tokenizer {
        lock.lock()
        defer { lock.unlock() }
        if let tokenizer = tokenizers[path] { return tokenizer }
        let tokenizer = try TokenizerLoader.load(gguf: GGUFFile(path: path))
        tokenizers[path] = tokenizer
        return tokenizer
    }
}

@Suite("Byte-level BPE against llama.cpp's vectors")
struct ByteLevelVectorTests {
    @Test("every vector string encodes to llama.cpp's ids", arguments: ["gpt-2", "llama-bpe", "qwen2"])
    func vectors(name: String) throws {
        try #require(ByteLevelTestData.hasVocabulary(name), "no vocabulary at \(ByteLevelTestData.vocabularyPath(name)); set KILN_TOKENIZER_VECTORS")
        let tokenizer = try ByteLevelTestData.tokenizer(name)
        #expect(tokenizer is ByteLevelBPETokenizer)
        let vectors = try ByteLevelTestData.vectors(name)
        #expect(vectors.count == 46)
        var passed = 0
        for (text, expected) in vectors {
            let ids = tokenizer.encode(text, addSpecialTokens: false, parseSpecial: false)
            #expect(ids == expected, "\(name): \(text.debugDescription)")
            if ids == expected { passed += 1 }
            // Decoding gives the text back: byte-level BPE loses nothing.
            #expect(tokenizer.decode(ids, skipSpecialTokens: false) == text)
        }
        print("\(name): \(passed)/\(vectors.count) vectors pass")
    }

    @Test("Llama 3 adds BOS by default, GPT-2 and Qwen 2 do not")
    func bosRules() throws {
        for name in ["gpt-2", "llama-bpe", "qwen2"] where ByteLevelTestData.hasVocabulary(name) {
            let tokenizer = try ByteLevelTestData.tokenizer(name)
            let plain = tokenizer.encode("Hello", addSpecialTokens: false, parseSpecial: true)
            let withSpecial = tokenizer.encode("Hello")
            if name == "llama-bpe" {
                #expect(withSpecial == [128000] + plain)
            } else {
                #expect(withSpecial == plain, "\(name)")
            }
        }
    }

    @Test("special tokens are parsed only when asked")
    func specialTokens() throws {
        try #require(ByteLevelTestData.hasVocabulary("qwen2"))
        let tokenizer = try ByteLevelTestData.tokenizer("qwen2")
        let text = "<|im_start|>user\nHi<|im_end|>"
        let parsed = tokenizer.encode(text, addSpecialTokens: false, parseSpecial: true)
        let start = try #require(tokenizer.tokenID("<|im_start|>"))
        let end = try #require(tokenizer.tokenID("<|im_end|>"))
        #expect(parsed.first == start && parsed.last == end)
        #expect(parsed == [start] + tokenizer.encode("user\nHi", addSpecialTokens: false, parseSpecial: false) + [end])
        let literal = tokenizer.encode(text, addSpecialTokens: false, parseSpecial: false)
        #expect(!literal.contains(start) && !literal.contains(end))
        #expect(tokenizer.decode(literal, skipSpecialTokens: true) == text)
        #expect(tokenizer.decode(parsed, skipSpecialTokens: false) == text)
        #expect(tokenizer.decode(parsed, skipSpecialTokens: true) == "user\nHi")
        #expect(tokenizer.specialTokens.stopIDs.contains(end))
    }

    @Test("round trip through decode on mixed scripts, emoji and whitespace")
    func roundTrip() throws {
        let samples = [
            "", " ", "\n\n\t  x", "naïve café — 1234567 × ½", "Привет, мир! Γειά σου κόσμε",
            "مرحبا بالعالم שלום עולם नमस्ते दुनिया", "你好，世界。こんにちは 안녕하세요 สวัสดีชาวโลก",
            "👩‍👩‍👧‍👦 🏳️‍🌈 👍🏽 🇯🇵", "func f() {\n    return x\t// tab\r\n}\n", "don't STOP'LL 'Re",
        ]
        for name in ["gpt-2", "llama-bpe", "qwen2"] where ByteLevelTestData.hasVocabulary(name) {
            let tokenizer = try ByteLevelTestData.tokenizer(name)
            for sample in samples {
                let ids = tokenizer.encode(sample, addSpecialTokens: false, parseSpecial: false)
                #expect(tokenizer.decode(ids, skipSpecialTokens: true) == sample, "\(name): \(sample.debugDescription)")
            }
        }
    }
}

/// Agreement with llama.cpp on a corpus written for no tokenizer in particular (prose, code,
/// many scripts, emoji sequences, odd whitespace, numbers): `Fixtures/corpus.txt`, with ids
/// from `scripts/make_tokenizer_reference.py` in `Fixtures/reference/`.
@Suite("Byte-level BPE against llama.cpp on an untuned corpus")
struct ByteLevelReferenceTests {
    /// One vocabulary's reference file (`scripts/make_tokenizer_reference.py`).
    struct Reference: Decodable {
        struct Chat: Decodable {
            var text: String
            var parsed: [Int]
            var literal: [Int]
        }

        var lines: [[Int]]
        var whole: [Int]
        var fuzz: [[Int]]
        var chat: Chat
        var bos: Int
        var eos: Int
        var addBOS: Bool
        var addEOS: Bool
        var endOfGeneration: [Int]

        enum CodingKeys: String, CodingKey {
            case lines, whole, fuzz, chat, bos, eos
            case addBOS = "add_bos"
            case addEOS = "add_eos"
            case endOfGeneration = "end_of_generation"
        }

        init(name: String) throws {
            let url = ByteLevelTestData.fixtures.appendingPathComponent("reference/\(name).json")
            self = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        }
    }

    /// Random strings over scalars that stress pre-tokenizers (JSONDecoder: Foundation's
    /// JSONSerialization drops the U+FEFF these contain).
    static let fuzzStrings: [String] = {
        let url = ByteLevelTestData.fixtures.appendingPathComponent("reference/fuzz-strings.json")
        return (try? JSONDecoder().decode([String].self, from: Data(contentsOf: url))) ?? []
    }()

    static let corpus: String = {
        let url = ByteLevelTestData.fixtures.appendingPathComponent("corpus.txt")
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }()

    /// Compares everything the reference recorded; returns (lines agreeing, lines).
    @discardableResult
    static func check(_ tokenizer: any Tokenizer, against reference: Reference, name: String) -> (Int, Int) {
        // Split by scalars: as Characters, "\r\n" is one grapheme and would not split at "\n".
        let lines = corpus.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { String($0) }
        #expect(lines.count == reference.lines.count, "\(name): corpus and reference disagree on line count")
        var agreeing = 0
        for (line, expected) in zip(lines, reference.lines) {
            let ids = tokenizer.encode(line, addSpecialTokens: false, parseSpecial: false)
            #expect(ids == expected, "\(name): \(line.debugDescription)")
            if ids == expected { agreeing += 1 }
        }
        #expect(tokenizer.encode(corpus, addSpecialTokens: false, parseSpecial: false) == reference.whole, "\(name): whole corpus")
        #expect(tokenizer.decode(reference.whole, skipSpecialTokens: false) == corpus)
        #expect(tokenizer.encode(reference.chat.text, addSpecialTokens: false, parseSpecial: true) == reference.chat.parsed)
        #expect(tokenizer.encode(reference.chat.text, addSpecialTokens: false, parseSpecial: false) == reference.chat.literal)
        #expect(fuzzStrings.count == reference.fuzz.count && !fuzzStrings.isEmpty, "\(name): fuzz strings")
        var fuzzAgreeing = 0
        for (string, expected) in zip(fuzzStrings, reference.fuzz) {
            let ids = tokenizer.encode(string, addSpecialTokens: false, parseSpecial: false)
            #expect(ids == expected, "\(name): \(string.unicodeScalars.map { String($0.value, radix: 16) })")
            if ids == expected { fuzzAgreeing += 1 }
        }
        let special = tokenizer.specialTokens
        #expect(special.bos == reference.bos && special.eos == reference.eos, "\(name): bos/eos")
        #expect(special.addBOS == reference.addBOS && special.addEOS == reference.addEOS, "\(name): add_bos/add_eos")
        #expect(special.stopIDs == Set(reference.endOfGeneration), "\(name): end-of-generation ids")
        print("\(name): \(agreeing)/\(lines.count) corpus lines, the whole corpus (\(reference.whole.count) tokens) and \(fuzzAgreeing)/\(reference.fuzz.count) random strings agree with llama.cpp")
        return (agreeing, lines.count)
    }

    @Test("corpus ids, special parsing and special ids match llama.cpp", arguments: ["gpt-2", "llama-bpe", "qwen2"])
    func vocabulary(name: String) throws {
        try #require(ByteLevelTestData.hasVocabulary(name))
        Self.check(try ByteLevelTestData.tokenizer(name), against: try Reference(name: name), name: name)
    }

    @Test("real models' tokenizers match llama.cpp",
          .enabled(if: ByteLevelTestData.modelsDirectory != nil, "set KILN_MODELS to the GGUF models' directory"),
          arguments: [("smollm2-135m", "smollm2-135m-instruct-q4_1.gguf"),
                      ("qwen2.5-coder-1.5b", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")])
    func realModel(name: String, file: String) throws {
        let tokenizer = try ByteLevelTestData.modelTokenizer(file)
        let byteLevel = try #require(tokenizer as? ByteLevelBPETokenizer)
        #expect(byteLevel.preTokenizer == (name.hasPrefix("smollm") ? .smollm : .qwen2))
        Self.check(tokenizer, against: try Reference(name: name), name: name)
    }
}

/// Metadata-only GGUF v3 files, written byte by byte, for the loader's error paths.
enum MetadataGGUF {
    enum Value {
        case string(String)
        case strings([String])
        case int32s([Int32])
        case uint32(UInt32)
        case bool(Bool)
    }

    static func file(_ entries: [(String, Value)]) throws -> TemporaryFile {
        var bytes: [UInt8] = []
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        func append(_ string: String) { append(UInt64(string.utf8.count)); bytes += string.utf8 }
        append(UInt32(0x4655_4747)) // "GGUF"
        append(UInt32(3))
        append(UInt64(0)) // tensors
        append(UInt64(entries.count))
        for (key, value) in entries {
            append(key)
            switch value {
            case let .string(string): append(UInt32(8)); append(string)
            case let .strings(strings): append(UInt32(9)); append(UInt32(8)); append(UInt64(strings.count)); strings.forEach { append($0) }
            case let .int32s(values): append(UInt32(9)); append(UInt32(5)); append(UInt64(values.count)); values.forEach { append($0) }
            case let .uint32(value): append(UInt32(4)); append(value)
            case let .bool(value): append(UInt32(7)); bytes.append(value ? 1 : 0)
            }
        }
        while bytes.count % 32 != 0 { bytes.append(0) }
        return try TemporaryFile(data: Data(bytes), suffix: "gguf")
    }

    /// A byte-level vocabulary: the 256 byte tokens, "ab" from the one merge "a b", and "<|end|>".
    static let byteTokens = ByteLevelAlphabet.scalarForByte.map { String($0) }
    static let tokens = byteTokens + ["ab", "<|endoftext|>"]
}

@Suite("GGUF tokenizer loading errors")
struct GGUFTokenizerLoaderTests {
    static func load(_ entries: [(String, MetadataGGUF.Value)]) throws -> (any Tokenizer, String) {
        let file = try MetadataGGUF.file(entries)
        return (try TokenizerLoader.load(gguf: GGUFFile(path: file.path)), file.path)
    }

    static func expectError(_ entries: [(String, MetadataGGUF.Value)], _ check: (KilnError, String) -> Bool) throws {
        let file = try MetadataGGUF.file(entries)
        let gguf = try GGUFFile(path: file.path)
        do {
            _ = try TokenizerLoader.load(gguf: gguf)
            Issue.record("loading succeeded")
        } catch let error as KilnError {
            #expect(check(error, file.path), "\(error)")
        }
    }

    @Test("a minimal byte-level GGUF vocabulary loads and merges")
    func minimal() throws {
        let (tokenizer, _) = try Self.load([
            ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("gpt-2")),
            ("tokenizer.ggml.tokens", .strings(MetadataGGUF.tokens)),
            ("tokenizer.ggml.token_type", .int32s(Array(repeating: 1, count: 257) + [3])),
            ("tokenizer.ggml.merges", .strings(["a b"])),
            ("tokenizer.ggml.eos_token_id", .uint32(257)), ("tokenizer.ggml.add_eos_token", .bool(true)),
        ])
        #expect(tokenizer.encode("abc<|endoftext|>", addSpecialTokens: true, parseSpecial: true) == [256, 99, 257, 257])
        #expect(tokenizer.specialTokens.stopIDs == [257])
    }

    @Test("missing or malformed keys name the file and the key")
    func errors() throws {
        let tokens: (String, MetadataGGUF.Value) = ("tokenizer.ggml.tokens", .strings(MetadataGGUF.tokens))
        try Self.expectError([tokens]) { error, path in
            error == .invalidFile(path: path, reason: "no tokenizer: metadata key tokenizer.ggml.model is missing")
        }
        try Self.expectError([("tokenizer.ggml.model", .string("bert")), tokens]) { error, path in
            error == .unsupported(path: path, reason: "tokenizer model 'bert' (Kiln reads gpt2, llama and gemma4)")
        }
        try Self.expectError([("tokenizer.ggml.model", .string("gpt2"))]) { error, path in
            error == .invalidFile(path: path, reason: "tokenizer.ggml.tokens is missing or not an array of strings")
        }
        try Self.expectError([("tokenizer.ggml.model", .string("gpt2")), tokens,
                              ("tokenizer.ggml.token_type", .int32s([1, 1]))]) { error, path in
            error == .invalidFile(path: path, reason: "tokenizer.ggml.token_type must hold 258 integers, got [2 int]")
        }
        try Self.expectError([("tokenizer.ggml.model", .string("gpt2")), tokens]) { error, path in
            error == .invalidFile(path: path, reason: "tokenizer.ggml.merges is missing (tokenizer model 'gpt2' merges by rank)")
        }
        try Self.expectError([("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("tekken")), tokens,
                              ("tokenizer.ggml.merges", .strings([]))]) { error, path in
            guard case let .unsupported(errorPath, reason) = error else { return false }
            return errorPath == path && reason.contains("'tekken'")
        }
    }
}
