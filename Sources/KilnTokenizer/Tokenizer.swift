/// Text <-> token ids for one model. Implementations are immutable values safe to share
/// across threads (a server tokenizes many requests at once).
public protocol Tokenizer: Sendable {
    /// Number of token ids (the embedding table's rows may be larger; never smaller).
    var vocabularySize: Int { get }
    /// The vocabulary's special ids and BOS/EOS rules.
    var specialTokens: SpecialTokens { get }

    /// Token ids for `text`.
    /// - addSpecialTokens: apply the model's own BOS/EOS rule (`specialTokens.addBOS/addEOS`),
    ///   as llama.cpp and transformers do by default.
    /// - parseSpecial: read special-token text (`<|im_start|>`, `<start_of_turn>`) in `text` as
    ///   the special token rather than as plain characters.
    func encode(_ text: String, addSpecialTokens: Bool, parseSpecial: Bool) -> [Int]

    /// The raw bytes a token stands for when detokenized (after undoing byte-level or `▁`
    /// encodings; byte-fallback tokens give their single byte). Control tokens give their text.
    /// Concatenating these and decoding as UTF-8 is `decode` (modulo a leading-space rule).
    func tokenBytes(_ id: Int) -> [UInt8]

    /// The vocabulary's own spelling of a token ("Ġthe", "▁the", "<0x0A>"), nil when out of range.
    func tokenString(_ id: Int) -> String?

    /// The id of a vocabulary entry spelled exactly `string`, nil when absent.
    func tokenID(_ string: String) -> Int?

    /// Text for `ids`. `skipSpecialTokens` drops control tokens (BOS, EOS, `<|im_end|>`).
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String
}

extension Tokenizer {
    /// Encodes with the model's BOS/EOS rule and special-token parsing, the defaults of
    /// llama.cpp's and transformers' tokenizers.
    public func encode(_ text: String) -> [Int] {
        encode(text, addSpecialTokens: true, parseSpecial: true)
    }
}

/// Special token ids and the model's rules for adding them.
public struct SpecialTokens: Sendable, Equatable {
    /// Beginning-of-sequence id.
    public var bos: Int?
    /// End-of-sequence id (generation also stops at `endOfGeneration`).
    public var eos: Int?
    /// Extra ids that end a turn (`<|im_end|>`, `<end_of_turn>`, `<|eot_id|>`).
    public var endOfGeneration: [Int]
    /// Unknown-token id (SentencePiece vocabularies).
    public var unknown: Int?
    /// Padding id.
    public var padding: Int?
    /// Whether `encode` with `addSpecialTokens` prepends BOS.
    public var addBOS: Bool
    /// Whether `encode` with `addSpecialTokens` appends EOS.
    public var addEOS: Bool

    /// Creates a set of special tokens.
    public init(bos: Int? = nil, eos: Int? = nil, endOfGeneration: [Int] = [], unknown: Int? = nil,
                padding: Int? = nil, addBOS: Bool = false, addEOS: Bool = false) {
        self.bos = bos
        self.eos = eos
        self.endOfGeneration = endOfGeneration
        self.unknown = unknown
        self.padding = padding
        self.addBOS = addBOS
        self.addEOS = addEOS
    }

    /// Every id that ends generation: EOS plus the end-of-turn tokens.
    public var stopIDs: Set<Int> {
        var ids = Set(endOfGeneration)
        if let eos { ids.insert(eos) }
        return ids
    }
}
