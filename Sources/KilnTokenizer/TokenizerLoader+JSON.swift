import Foundation
import KilnCore

/// Hugging Face `tokenizer.json` (+ optional `tokenizer_config.json`): BPE models only.
/// Byte-level BPE picks its `PreTokenizer` from the Split regex or Digits/ByteLevel pieces the
/// file lists; BPE with `byte_fallback` becomes a SentencePiece-style vocabulary with merges.
/// Added tokens become control tokens when `special` (or spelled like one, as llama.cpp's
/// converter decides) and user-defined otherwise. Normalizers other than SentencePiece's
/// space escaping (Qwen 2's NFC) are not applied, as llama.cpp's conversion drops them too.
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
        let root = try readJSONObject(path)
        func invalid(_ reason: String) -> KilnError { .invalidFile(path: path, reason: reason) }

        guard let model = root["model"] as? [String: Any] else { throw invalid("no \"model\" object") }
        let modelType = model["type"] as? String ?? "BPE" // older files omit it
        guard modelType == "BPE" else {
            throw KilnError.unsupported(path: path, reason: "tokenizer model type '\(modelType)' (Kiln reads BPE)")
        }
        guard let vocab = model["vocab"] as? [String: Any] else { throw invalid("model.vocab is missing or not an object") }
        let merges = try readMerges(model["merges"], path: path)
        let addedTokens = root["added_tokens"] as? [[String: Any]] ?? []

        // Ids may have holes (padded embedding tables); llama.cpp's converter names them [PADn].
        var spellingByID: [Int: String] = [:]
        for (spelling, value) in vocab {
            guard let id = (value as? NSNumber)?.intValue, id >= 0 else {
                throw invalid("model.vocab[\"\(spelling)\"] is not a non-negative integer id")
            }
            spellingByID[id] = spelling
        }
        var addedKinds: [Int: TokenKind] = [:]
        var strip: [Int: SpecialTokenSplitter.Strip] = [:]
        for added in addedTokens {
            guard let id = (added["id"] as? NSNumber)?.intValue, id >= 0, let content = added["content"] as? String else {
                throw invalid("an entry of added_tokens lacks an integer \"id\" or a string \"content\"")
            }
            spellingByID[id] = content
            let special = (added["special"] as? NSNumber)?.boolValue ?? false
            addedKinds[id] = special || looksSpecial(content) ? .control : .userDefined
            var sides: SpecialTokenSplitter.Strip = []
            if (added["lstrip"] as? NSNumber)?.boolValue == true { sides.insert(.left) }
            if (added["rstrip"] as? NSNumber)?.boolValue == true { sides.insert(.right) }
            if !sides.isEmpty { strip[id] = sides }
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

        let byteFallback = (model["byte_fallback"] as? NSNumber)?.boolValue ?? false
        let modelName: String
        let preName: String
        var addSpacePrefix = false
        if byteFallback {
            modelName = "llama"
            preName = "default"
            for (id, token) in tokens.enumerated() where kinds[id] == .normal && isByteToken(token) {
                kinds[id] = .byte
            }
            addSpacePrefix = prependsSpace(root)
        } else {
            modelName = "gpt2"
            let pre = try byteLevelPreTokenizer(root["pre_tokenizer"], path: path)
            preName = switch pre {
            case .gpt2: "gpt-2"
            case .llama3: "llama-bpe"
            case .qwen2: "qwen2"
            case .smollm: "smollm"
            }
        }

        var special = SpecialTokens()
        let idBySpelling = Dictionary(tokens.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        readPostProcessor(root["post_processor"], idBySpelling: idBySpelling, into: &special)
        if let configPath = tokenizerConfig {
            let config = try readJSONObject(configPath)
            func tokenID(_ key: String) throws -> Int? {
                let value = config[key]
                let spelling = value as? String ?? (value as? [String: Any])?["content"] as? String
                guard let spelling else { return nil }
                guard let id = idBySpelling[spelling] else {
                    throw KilnError.invalidFile(path: configPath, reason: "\(key) '\(spelling)' is not in the vocabulary of \(path)")
                }
                return id
            }
            special.bos = try tokenID("bos_token") ?? special.bos
            special.eos = try tokenID("eos_token") ?? special.eos
            special.unknown = try tokenID("unk_token") ?? special.unknown
            special.padding = try tokenID("pad_token") ?? special.padding
            if let add = (config["add_bos_token"] as? NSNumber)?.boolValue { special.addBOS = add }
            if let add = (config["add_eos_token"] as? NSNumber)?.boolValue { special.addEOS = add }
        }
        if let unknown = model["unk_token"] as? String, special.unknown == nil { special.unknown = idBySpelling[unknown] }
        if special.addBOS && special.bos == nil { special.addBOS = false }
        if special.addEOS && special.eos == nil { special.addEOS = false }
        EndOfGenerationRules.apply(tokens: tokens, kinds: &kinds, special: &special, declared: [])

        let vocabulary = TokenizerVocabulary(tokens: tokens, kinds: kinds, scores: [], merges: merges,
                                             specialTokens: special, model: modelName, preTokenizer: preName,
                                             addSpacePrefix: addSpacePrefix)
        return (vocabulary, strip)
    }

    // MARK: Pieces of the file

    private static func readJSONObject(_ path: String) throws -> [String: Any] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw KilnError.missingFile(path: path, reason: "no such file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw KilnError.invalidFile(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw KilnError.invalidFile(path: path, reason: "not valid JSON (\(data.count) bytes)")
        }
        guard let dictionary = object as? [String: Any] else {
            throw KilnError.invalidFile(path: path, reason: "the top level is not a JSON object")
        }
        return dictionary
    }

    /// Merges as "left right" strings; newer files store `["left", "right"]` pairs.
    private static func readMerges(_ value: Any?, path: String) throws -> [String] {
        guard let list = value as? [Any] else {
            throw KilnError.invalidFile(path: path, reason: "model.merges is missing or not a list")
        }
        return try list.enumerated().map { index, entry in
            if let merge = entry as? String { return merge }
            if let pair = entry as? [String], pair.count == 2 { return pair[0] + " " + pair[1] }
            throw KilnError.invalidFile(path: path, reason: "model.merges[\(index)] is neither \"a b\" nor [\"a\", \"b\"]")
        }
    }

    /// The scanner matching a byte-level file's pre-tokenizer.
    private static func byteLevelPreTokenizer(_ value: Any?, path: String) throws -> PreTokenizer {
        guard let object = value as? [String: Any] else {
            throw KilnError.unsupported(path: path, reason: "byte-level BPE without a pre_tokenizer")
        }
        let steps = object["type"] as? String == "Sequence" ? (object["pretokenizers"] as? [[String: Any]] ?? []) : [object]
        var pattern: String?
        var individualDigits = false
        var byteLevelRegex = false
        var described: [String] = []
        for step in steps {
            let type = step["type"] as? String ?? "?"
            described.append(type)
            switch type {
            case "Split":
                pattern = (step["pattern"] as? [String: Any])?["Regex"] as? String
            case "Digits":
                individualDigits = (step["individual_digits"] as? NSNumber)?.boolValue ?? false
            case "ByteLevel":
                byteLevelRegex = (step["use_regex"] as? NSNumber)?.boolValue ?? true
                if (step["add_prefix_space"] as? NSNumber)?.boolValue == true {
                    throw KilnError.unsupported(path: path, reason: "ByteLevel pre-tokenizer with add_prefix_space")
                }
            default:
                throw KilnError.unsupported(path: path, reason: "pre-tokenizer step '\(type)' in [\(described.joined(separator: ", "))]")
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
    private static func readPostProcessor(_ value: Any?, idBySpelling: [String: Int], into special: inout SpecialTokens) {
        guard let object = value as? [String: Any] else { return }
        if object["type"] as? String == "Sequence" {
            for step in object["processors"] as? [Any] ?? [] {
                readPostProcessor(step, idBySpelling: idBySpelling, into: &special)
            }
            return
        }
        guard object["type"] as? String == "TemplateProcessing", let single = object["single"] as? [[String: Any]] else { return }
        func specialID(_ item: [String: Any]?) -> Int? {
            guard let name = (item?["SpecialToken"] as? [String: Any])?["id"] as? String else { return nil }
            let declared = ((object["special_tokens"] as? [String: Any])?[name] as? [String: Any])?["ids"] as? [NSNumber]
            return declared?.first?.intValue ?? idBySpelling[name]
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
    private static func prependsSpace(_ root: [String: Any]) -> Bool {
        func steps(_ value: Any?, listKey: String) -> [[String: Any]] {
            guard let object = value as? [String: Any] else { return [] }
            return object["type"] as? String == "Sequence" ? (object[listKey] as? [[String: Any]] ?? []) : [object]
        }
        for step in steps(root["normalizer"], listKey: "normalizers")
        where step["type"] as? String == "Prepend" && step["prepend"] as? String == "▁" {
            return true
        }
        for step in steps(root["pre_tokenizer"], listKey: "pretokenizers") where step["type"] as? String == "Metaspace" {
            if let scheme = step["prepend_scheme"] as? String { return scheme != "never" }
            return (step["add_prefix_space"] as? NSNumber)?.boolValue ?? true
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
