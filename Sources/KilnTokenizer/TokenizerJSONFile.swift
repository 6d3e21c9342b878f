/// The parts of a Hugging Face `tokenizer.json` Kiln reads, decoded with `JSONDecoder`
/// (Foundation's `JSONSerialization` on Linux silently drops U+FEFF from strings, which exists
/// in real vocabularies). The pipeline stages vary too much for fixed types and are small, so
/// they stay generic `Value`s; the large parts (vocabulary, merges) are typed.
struct TokenizerJSONFile: Decodable {
    /// Any JSON value.
    enum Value: Decodable, Equatable {
        case null
        case bool(Bool)
        case number(Double)
        case string(String)
        case array([Value])
        case object([String: Value])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() { self = .null }
            else if let value = try? container.decode(Bool.self) { self = .bool(value) }
            else if let value = try? container.decode(Double.self) { self = .number(value) }
            else if let value = try? container.decode(String.self) { self = .string(value) }
            else if let value = try? container.decode([Value].self) { self = .array(value) }
            else { self = .object(try container.decode([String: Value].self)) }
        }

        /// Member `key` of an object (nil otherwise).
        subscript(key: String) -> Value? {
            if case let .object(members) = self { return members[key] }
            return nil
        }

        var string: String? { if case let .string(value) = self { return value }; return nil }
        var bool: Bool? { if case let .bool(value) = self { return value }; return nil }
        var array: [Value]? { if case let .array(value) = self { return value }; return nil }
        var int: Int? {
            if case let .number(value) = self, let exact = Int(exactly: value) { return exact }
            return nil
        }
    }

    /// The tokenization model (`model`).
    struct Model: Decodable {
        /// "BPE", "WordPiece", "Unigram", ...; older BPE files omit it.
        var type: String?
        /// Token spellings to ids.
        var vocabulary: [String: Int]?
        /// Merges, "left right" each, in rank order.
        var merges: [String]?
        /// Bytes with no piece become `<0xXX>` tokens (SentencePiece-style vocabularies).
        var byteFallback: Bool?
        /// The unknown token's spelling.
        var unknownToken: String?

        enum CodingKeys: String, CodingKey {
            case type, merges
            case vocabulary = "vocab"
            case byteFallback = "byte_fallback"
            case unknownToken = "unk_token"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            type = try container.decodeIfPresent(String.self, forKey: .type)
            vocabulary = try? container.decodeIfPresent([String: Int].self, forKey: .vocabulary)
            byteFallback = try container.decodeIfPresent(Bool.self, forKey: .byteFallback)
            unknownToken = try? container.decodeIfPresent(String.self, forKey: .unknownToken)
            // Newer files store merges as ["left", "right"] pairs.
            if let strings = try? container.decodeIfPresent([String].self, forKey: .merges) {
                merges = strings
            } else if let pairs = try? container.decodeIfPresent([[String]].self, forKey: .merges) {
                merges = try pairs.enumerated().map { index, pair in
                    guard pair.count == 2 else {
                        throw DecodingError.dataCorruptedError(forKey: .merges, in: container,
                            debugDescription: "merge #\(index) has \(pair.count) parts, not 2")
                    }
                    return pair[0] + " " + pair[1]
                }
            }
        }
    }

    /// One entry of `added_tokens`.
    struct AddedToken: Decodable {
        var id: Int
        var content: String
        var special: Bool?
        var leftStrip: Bool?
        var rightStrip: Bool?

        enum CodingKeys: String, CodingKey {
            case id, content, special
            case leftStrip = "lstrip"
            case rightStrip = "rstrip"
        }
    }

    var model: Model
    var addedTokens: [AddedToken]?
    var normalizer: Value?
    var preTokenizer: Value?
    var postProcessor: Value?

    enum CodingKeys: String, CodingKey {
        case model, normalizer
        case addedTokens = "added_tokens"
        case preTokenizer = "pre_tokenizer"
        case postProcessor = "post_processor"
    }
}
