/// Kinds of vocabulary entries, with llama.cpp's numbering (`tokenizer.ggml.token_type`).
public enum TokenKind: Int, Sendable {
    case undefined = 0
    case normal = 1
    case unknown = 2
    /// BOS, EOS, `<|im_start|>`: matched in text only when special parsing is on; dropped by
    /// `decode(skipSpecialTokens: true)`.
    case control = 3
    /// Added tokens matched in text before BPE (transformers' non-special added tokens).
    case userDefined = 4
    case unused = 5
    /// `<0x0A>`: byte-fallback entries of SentencePiece vocabularies.
    case byte = 6
}

/// A vocabulary as files describe it, before any algorithm is chosen: the common input of every
/// tokenizer, built from GGUF metadata or from a `tokenizer.json`.
public struct TokenizerVocabulary: Sendable {
    /// Token spellings by id.
    public var tokens: [String]
    /// Kind of each token (same length as `tokens`).
    public var kinds: [TokenKind]
    /// SentencePiece scores (higher merges first), empty when the vocabulary has none.
    public var scores: [Float]
    /// BPE merges in rank order, each "left right" separated by one space; empty for
    /// score-based SentencePiece vocabularies.
    public var merges: [String]
    /// Special ids and BOS/EOS rules.
    public var specialTokens: SpecialTokens
    /// The model family of the tokenizer: GGUF `tokenizer.ggml.model` ("gpt2", "llama", "gemma4").
    public var model: String
    /// Pre-tokenizer name: GGUF `tokenizer.ggml.pre` ("gpt-2", "llama-bpe", "qwen2", "smollm", ...).
    public var preTokenizer: String
    /// SentencePiece: prepend "▁" to the text (`tokenizer.ggml.add_space_prefix`).
    public var addSpacePrefix: Bool

    /// Creates a vocabulary.
    public init(tokens: [String], kinds: [TokenKind], scores: [Float] = [], merges: [String] = [],
                specialTokens: SpecialTokens, model: String, preTokenizer: String, addSpacePrefix: Bool) {
        self.tokens = tokens
        self.kinds = kinds
        self.scores = scores
        self.merges = merges
        self.specialTokens = specialTokens
        self.model = model
        self.preTokenizer = preTokenizer
        self.addSpacePrefix = addSpacePrefix
    }
}
