import Foundation
import KilnCore

/// Hugging Face `tokenizer.json` (+ optional `tokenizer_config.json`): BPE models only.
/// Byte-level BPE picks its `PreTokenizer` from the Split regex or Digits/ByteLevel steps the
/// file lists; BPE with `byte_fallback` becomes a SentencePiece-style vocabulary with merges.
/// Added tokens become control tokens when `special` (or spelled like one, as llama.cpp's
/// converter decides) and user-defined otherwise. Normalizers other than SentencePiece's space
/// escaping (Qwen 2's NFC) are not applied, as llama.cpp's conversion drops them too.
extension TokenizerLoader {
    /// Known Split regexes, as they appear in tokenizer.json files.
    static let splitPatterns: [String: PreTokenizer] = [
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .llama3,
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .qwen2,
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#: .gpt2,
    ]

    /// The tokenizer described by a Hugging Face `tokenizer.json`, with the BOS/EOS settings of
    /// `tokenizerConfig` (a `tokenizer_config.json`) when given.
    /// - Throws: `KilnError` naming the file when it is missing, is not JSON, or describes a
    ///   model or pre-tokenizer Kiln does not implement.
    public static func load(tokenizerJSON path: String, tokenizerConfig: String?) throws -> any Tokenizer {
        let (vocabulary, strip) = try vocabulary(tokenizerJSON: path, tokenizerConfig: tokenizerConfig)
        return try makeTokenizer(vocabulary, strip: strip, path: path)
    }

    /// The vocabulary of a `tokenizer.json`, plus the whitespace its added tokens absorb.
    public static func vocabulary(tokenizerJSON path: String, tokenizerConfig: String?) throws
        -> (vocabulary: TokenizerVocabulary, strip: [Int: SpecialTokenSplitter.Strip]) {
        let file = try decode(TokenizerJSONFile.self, path: path)
        func invalid(_ reason: String) -> KilnError { .invalidFile(path: path, reason: reason) }

        let model = file.model
        let modelType = model.type ?? "BPE"
        guard modelType == "BPE" else {
            throw KilnError.unsupported(path: path, reason: "tokenizer model type '\(modelType)' (Kiln reads BPE)")
        }
        guard let vocab = model.vocabulary else { throw invalid("model.vocab is missing or not an object of integer ids") }
        guard let merges = model.merges else { throw invalid("model.merges is missing or not a list of merges") }

        // Ids may have holes (padded embedding tables); llama.cpp's converter names them [PADn].
        var spellingByID: [Int: String] = [:]
        spellingByID.reserveCapacity(vocab.count)
        for (spelling, id) in vocab {
            guard id >= 0 else { throw invalid("model.vocab[\"\(spelling)\"] has negative id \(id)") }
            spellingByID[id] = spelling
        }
        var addedKinds: [Int: TokenKind] = [:]
        var strip: [Int: SpecialTokenSplitter.Strip] = [:]
        for added in file.addedTokens ?? [] {
            guard added.id >= 0 else { throw invalid("added token \"\(added.content)\" has negative id \(added.id)") }
            spellingByID[added.id] = added.content
            addedKinds[added.id] = added.special == true || looksSpecial(added.content) ? .control : .userDefined
            var sides: SpecialTokenSplitter.Strip = []
            if added.leftStrip == true { sides.insert(.left) }
            if added.rightStrip == true { sides.insert(.right) }
            if !sides.isEmpty { strip[added.id] = sides }
        }
        let count = (spellingByID.keys.max() ?? -1) + 1
        guard count > 0 else { throw invalid("the vocabulary is empty") }
        var tokens: [String] = []
        var kinds: [TokenKind] = []
        tokens.reserveCapacity(count)
        kinds.reserveCapacity(count)
        for id in 0..<count {
            if let spelling = spellingByID[id] {
                tokens.append(spelling)
                kinds.append(addedKinds[id] ?? .normal)
            } else {
                tokens.append("[PAD\(id)]")
                kinds.append(.unused)
            }
        }

        let modelName: String
        let preName: String
        var addSpacePrefix = false
        if model.byteFallback == true {
            modelName = "llama"
            preName = "default"
            for (id, token) in tokens.enumerated() where kinds[id] == .normal && isByteToken(token) {
                kinds[id] = .byte
            }
            addSpacePrefix = prependsSpace(file)
        } else {
            modelName = "gpt2"
            preName = switch try byteLevelPreTokenizer(file.preTokenizer, path: path) {
            case .gpt2: "gpt-2"
            case .llama3: "llama-bpe"
            case .qwen2: "qwen2"
            case .smollm: "smollm"
            }
        }

        var special = SpecialTokens()
        var idBySpelling: [String: Int] = [:]
        idBySpelling.reserveCapacity(count)
        for (id, token) in tokens.enumerated() where idBySpelling[token] == nil { idBySpelling[token] = id }
        readPostProcessor(file.postProcessor, idBySpelling: idBySpelling, into: &special)
        if let configPath = tokenizerConfig {
            let config = try decode(TokenizerJSONFile.Value.self, path: configPath)
            func tokenID(_ key: String) throws -> Int? {
                // A spelling, or an AddedToken object with "content".
                guard let spelling = config[key]?.string ?? config[key]?["content"]?.string else { return nil }
                guard let id = idBySpelling[spelling] else {
                    throw KilnError.invalidFile(path: configPath, reason: "\(key) '\(spelling)' is not in the vocabulary of \(path)")
                }
                return id
            }
            special.bos = try tokenID("bos_token") ?? special.bos
            special.eos = try tokenID("eos_token") ?? special.eos
            special.unknown = try tokenID("unk_token") ?? special.unknown
            special.padding = try tokenID("pad_token") ?? special.padding
            if let add = config["add_bos_token"]?.bool { special.addBOS = add }
            if let add = config["add_eos_token"]?.bool { special.addEOS = add }
        }
        if special.unknown == nil, let unknown = model.unknownToken { special.unknown = idBySpelling[unknown] }
        if special.addBOS && special.bos == nil { special.addBOS = false }
        if special.addEOS && special.eos == nil { special.addEOS = false }
        EndOfGenerationRules.apply(tokens: tokens, kinds: &kinds, special: &special, declared: [])

        let vocabulary = TokenizerVocabulary(tokens: tokens, kinds: kinds, scores: [], merges: merges,
                                             specialTokens: special, model: modelName, preTokenizer: preName,
                                             addSpacePrefix: addSpacePrefix)
        return (vocabulary, strip)
    }

    // MARK: Pieces of the file

    /// Reads and decodes a JSON file, turning every failure into a `KilnError` naming it.
    private static func decode<Value: Decodable>(_ type: Value.Type, path: String) throws -> Value {
        guard FileManager.default.fileExists(atPath: path) else {
            throw KilnError.missingFile(path: path, reason: "no such file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw KilnError.invalidFile(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            throw KilnError.invalidFile(path: path, reason: "not valid JSON (\(data.count) bytes)")
        } catch let error as DecodingError {
            throw KilnError.invalidFile(path: path, reason: describe(error))
        } catch {
            throw KilnError.invalidFile(path: path, reason: "\(error)")
        }
    }

    /// "model.vocab: expected ..." from a decoding error.
    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "top level" : keys.joined(separator: ".")
        }
        switch error {
        case let .keyNotFound(key, context): return "\(path(context)): missing \"\(key.stringValue)\""
        case let .typeMismatch(_, context), let .valueNotFound(_, context), let .dataCorrupted(context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    /// The scanner matching a byte-level file's pre-tokenizer.
    private static func byteLevelPreTokenizer(_ value: TokenizerJSONFile.Value?, path: String) throws -> PreTokenizer {
        guard let value, value != .null else {
            throw KilnError.unsupported(path: path, reason: "byte-level BPE without a pre_tokenizer")
        }
        let steps = value["type"]?.string == "Sequence" ? (value["pretokenizers"]?.array ?? []) : [value]
        var pattern: String?
        var individualDigits = false
        var byteLevelRegex = false
        var described: [String] = []
        for step in steps {
            let type = step["type"]?.string ?? "?"
            described.append(type)
            switch type {
            case "Split":
                pattern = step["pattern"]?["Regex"]?.string
            case "Digits":
                individualDigits = step["individual_digits"]?.bool ?? false
            case "ByteLevel":
                byteLevelRegex = step["use_regex"]?.bool ?? true
                if step["add_prefix_space"]?.bool == true {
                    throw KilnError.unsupported(path: path, reason: "ByteLevel pre-tokenizer with add_prefix_space")
                }
            default:
                throw KilnError.unsupported(path: path, reason: "pre-tokenizer step '\(type)'")
            }
        }
        switch (pattern, individualDigits, byteLevelRegex) {
        case let (pattern?, false, false):
            if let known = splitPatterns[pattern] { return known }
            throw KilnError.unsupported(path: path, reason: "pre-tokenizer Split regex \(pattern)")
        case (nil, true, true): return .smollm
        case (nil, false, true): return .gpt2
        default:
            throw KilnError.unsupported(path: path, reason: "pre-tokenizer sequence [\(described.joined(separator: ", "))]")
        }
    }

    /// BOS/EOS from a `TemplateProcessing` post-processor (possibly inside a `Sequence`): a
    /// special token before the text is BOS, one after it EOS.
    private static func readPostProcessor(_ value: TokenizerJSONFile.Value?, idBySpelling: [String: Int],
                                          into special: inout SpecialTokens) {
        guard let value else { return }
        if value["type"]?.string == "Sequence" {
            for step in value["processors"]?.array ?? [] {
                readPostProcessor(step, idBySpelling: idBySpelling, into: &special)
            }
            return
        }
        guard value["type"]?.string == "TemplateProcessing", let single = value["single"]?.array else { return }
        func specialID(_ item: TokenizerJSONFile.Value?) -> Int? {
            guard let name = item?["SpecialToken"]?["id"]?.string else { return nil }
            return value["special_tokens"]?[name]?["ids"]?.array?.first?.int ?? idBySpelling[name]
        }
        if let bos = specialID(single.first) {
            special.bos = bos
            special.addBOS = true
        }
        if single.count > 1, let eos = specialID(single.last) {
            special.eos = eos
            special.addEOS = true
        }
    }

    /// Whether a SentencePiece-style file prepends "▁" to the text (a `Prepend` normalizer or a
    /// `Metaspace` pre-tokenizer that adds a prefix space).
    private static func prependsSpace(_ file: TokenizerJSONFile) -> Bool {
        func steps(_ value: TokenizerJSONFile.Value?, listKey: String) -> [TokenizerJSONFile.Value] {
            guard let value, value != .null else { return [] }
            return value["type"]?.string == "Sequence" ? (value[listKey]?.array ?? []) : [value]
        }
        for step in steps(file.normalizer, listKey: "normalizers")
        where step["type"]?.string == "Prepend" && step["prepend"]?.string == "▁" {
            return true
        }
        for step in steps(file.preTokenizer, listKey: "pretokenizers") where step["type"]?.string == "Metaspace" {
            if let scheme = step["prepend_scheme"]?.string { return scheme != "never" }
            return step["add_prefix_space"]?.bool ?? true
        }
        return false
    }

    /// llama.cpp converter's `does_token_look_special`: added tokens spelled like control
    /// tokens become control tokens even when the file does not mark them special.
    static func looksSpecial(_ token: String) -> Bool {
        ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].contains(token)
            || (token.hasPrefix("<|") && token.hasSuffix("|>"))
            || (token.hasPrefix("<｜") && token.hasSuffix("｜>"))
            || (token.hasPrefix("<unused") && token.hasSuffix(">"))
    }

    /// "<0x0A>": a byte-fallback entry.
    private static func isByteToken(_ token: String) -> Bool {
        let utf8 = Array(token.utf8)
        return utf8.count == 6 && token.hasPrefix("<0x") && token.hasSuffix(">")
            && UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16) != nil
    }
}
