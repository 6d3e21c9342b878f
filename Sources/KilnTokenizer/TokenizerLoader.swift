import KilnCore
import KilnFormats

/// Builds tokenizers from the files models ship: GGUF metadata (`tokenizer.ggml.*`) or a
/// Hugging Face `tokenizer.json` (see `TokenizerLoader+JSON.swift`). Special ids, BOS/EOS rules
/// and end-of-generation tokens follow llama.cpp's loader, the reference for the tests.
public enum TokenizerLoader {
    /// The tokenizer stored in a GGUF file's metadata.
    /// - Throws: `KilnError` naming the file when keys are missing or malformed, or the
    ///   tokenizer model is not one Kiln implements.
    public static func load(gguf: GGUFFile) throws -> any Tokenizer {
        let vocabulary = try vocabulary(gguf: gguf)
        return try makeTokenizer(vocabulary, strip: [:], path: gguf.path)
    }

    /// The vocabulary in a GGUF file's metadata, with llama.cpp's defaults filled in.
    public static func vocabulary(gguf: GGUFFile) throws -> TokenizerVocabulary {
        let metadata = gguf.metadata
        let path = gguf.path
        func invalid(_ reason: String) -> KilnError { .invalidFile(path: path, reason: reason) }

        guard let model = metadata["tokenizer.ggml.model"]?.stringValue else {
            throw invalid("no tokenizer: metadata key tokenizer.ggml.model is missing")
        }
        guard ["gpt2", "llama", "gemma4"].contains(model) else {
            throw KilnError.unsupported(path: path, reason: "tokenizer model '\(model)' (Kiln reads gpt2, llama and gemma4)")
        }
        guard let tokens = metadata["tokenizer.ggml.tokens"]?.arrayValue?.stringValues else {
            throw invalid("tokenizer.ggml.tokens is missing or not an array of strings")
        }
        let count = tokens.count
        var kinds = [TokenKind](repeating: .normal, count: count)
        if let value = metadata["tokenizer.ggml.token_type"] {
            guard let types = value.arrayValue?.intValues, types.count >= count else {
                throw invalid("tokenizer.ggml.token_type must hold \(count) integers, got \(value.summary)")
            }
            for id in 0..<count { kinds[id] = TokenKind(rawValue: types[id]) ?? .undefined }
        }
        var scores: [Float] = []
        if let value = metadata["tokenizer.ggml.scores"] {
            guard let values = value.arrayValue?.floatValues, values.count >= count else {
                throw invalid("tokenizer.ggml.scores must hold \(count) numbers, got \(value.summary)")
            }
            scores = Array(values.prefix(count))
        }
        var merges: [String] = []
        if let value = metadata["tokenizer.ggml.merges"] {
            guard let values = value.arrayValue?.stringValues else {
                throw invalid("tokenizer.ggml.merges must be an array of strings, got \(value.summary)")
            }
            merges = values
        } else if model != "llama" {
            throw invalid("tokenizer.ggml.merges is missing (tokenizer model '\(model)' merges by rank)")
        }
        let preName = model == "gemma4" ? "gemma4" : metadata["tokenizer.ggml.pre"]?.stringValue ?? ""
        if model == "gpt2" && PreTokenizer(ggmlName: preName) == nil {
            throw KilnError.unsupported(path: path, reason: preName.isEmpty
                ? "tokenizer.ggml.pre is missing: llama.cpp's default regex for old conversions is not implemented"
                : "pre-tokenizer '\(preName)' (tokenizer.ggml.pre); Kiln implements gpt-2, llama-bpe, qwen2, smollm and their aliases")
        }

        // llama.cpp's defaults per tokenizer model, used where the file says nothing.
        var special = SpecialTokens()
        var addSpacePrefix = false
        switch model {
        case "llama":
            special = SpecialTokens(bos: 1, eos: 2, unknown: 0, addBOS: true, addEOS: false)
            addSpacePrefix = true
        case "gpt2":
            // llama.cpp's placeholder 11 for both; real files always set them.
            special = SpecialTokens(bos: 11, eos: 11, addBOS: PreTokenizer(ggmlName: preName) == .llama3)
        default:
            break
        }
        func inRange(_ id: Int?) -> Int? { id.flatMap { $0 >= 0 && $0 < count ? $0 : nil } }
        special.bos = inRange(special.bos)
        special.eos = inRange(special.eos)
        special.unknown = inRange(special.unknown)
        func id(_ key: String) -> Int? { inRange(metadata["tokenizer.ggml.\(key)"]?.intValue) }
        special.bos = id("bos_token_id") ?? special.bos
        special.eos = id("eos_token_id") ?? special.eos
        special.unknown = id("unknown_token_id") ?? special.unknown
        special.padding = id("padding_token_id") ?? special.padding
        if let add = metadata["tokenizer.ggml.add_bos_token"]?.boolValue { special.addBOS = add }
        if let add = metadata["tokenizer.ggml.add_eos_token"]?.boolValue { special.addEOS = add }
        if model == "gemma4" { special.addBOS = true } // llama.cpp forces it (PR 21500)
        if let add = metadata["tokenizer.ggml.add_space_prefix"]?.boolValue { addSpacePrefix = add }
        if special.addBOS && special.bos == nil {
            throw invalid("tokenizer.ggml.add_bos_token is true but tokenizer.ggml.bos_token_id is not set")
        }
        if special.addEOS && special.eos == nil {
            throw invalid("tokenizer.ggml.add_eos_token is true but tokenizer.ggml.eos_token_id is not set")
        }

        let declared = ["eot_token_id", "eom_token_id", "fim_pad_token_id", "fim_rep_token_id", "fim_sep_token_id"]
            .compactMap { id($0) }
        EndOfGenerationRules.apply(tokens: tokens, kinds: &kinds, special: &special, declared: declared)
        return TokenizerVocabulary(tokens: tokens, kinds: kinds, scores: scores, merges: merges,
                                   specialTokens: special, model: model, preTokenizer: preName,
                                   addSpacePrefix: addSpacePrefix)
    }

    /// Picks the algorithm for a vocabulary's model family.
    static func makeTokenizer(_ vocabulary: TokenizerVocabulary, strip: [Int: SpecialTokenSplitter.Strip],
                              path: String) throws -> any Tokenizer {
        do {
            switch vocabulary.model {
            case "gpt2":
                return try ByteLevelBPETokenizer(vocabulary: vocabulary, strip: strip)
            case "llama", "gemma4":
                return try SentencePieceTokenizer(vocabulary: vocabulary)
            default:
                throw KilnError.unsupported(path: path, reason: "tokenizer model '\(vocabulary.model)'")
            }
        } catch let KilnError.invalidArgument(message) {
            throw KilnError.invalidFile(path: path, reason: message)
        }
    }
}
