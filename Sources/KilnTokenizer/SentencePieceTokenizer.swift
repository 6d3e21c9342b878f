import KilnCore

/// SentencePiece-style tokenizer: text with spaces written "▁", merged into vocabulary pieces,
/// with `<0xXX>` byte tokens for whatever no piece covers. Reproduces llama.cpp's tokenization
/// (the reference the tests check against) in two modes, picked from the vocabulary:
///
/// - `scoreMerge` (no merges listed; GGUF `tokenizer.ggml.model` "llama": Llama 2, Mistral,
///   Gemma 1/2/3): SentencePiece's own BPE, which merges the adjacent pair whose result has the
///   highest score, over the whole text fragment (`llm_tokenizer_spm`).
/// - `rankMerge` (merges listed; GGUF "gemma4", and `tokenizer.json` BPE with byte fallback):
///   merges by rank, as Hugging Face's BPE model does (`llm_tokenizer_bpe` with
///   `byte_encode = false`). For Gemma 4 the text is first cut into runs of newlines and runs of
///   everything else, as llama.cpp does.
///
/// Special tokens (control and user-defined entries) are cut out of the text first; a text
/// fragment at the start or right after a special token gets the "▁" prefix when
/// `addSpacePrefix` is set (llama.cpp's `is_prev_special` rule).
public struct SentencePieceTokenizer: Tokenizer {
    /// How pieces are merged.
    public enum Algorithm: Sendable, Equatable {
        /// Highest-scoring piece first (SentencePiece BPE; vocabularies with scores, no merges).
        case scoreMerge
        /// Lowest-ranked listed merge first (BPE with merges).
        case rankMerge
    }

    /// The merge rule in use.
    public let algorithm: Algorithm
    /// Whether a "▁" is prepended to text at the start and after each special token.
    public let addSpacePrefix: Bool
    /// Whether text is cut at newline runs before merging (Gemma 4).
    public let splitsAtNewlines: Bool
    /// Number of token ids.
    public let vocabularySize: Int
    /// The vocabulary's special ids and BOS/EOS rules.
    public let specialTokens: SpecialTokens

    /// Vocabulary spellings by id.
    private let tokens: [String]
    /// Kind of each token.
    private let kinds: [TokenKind]
    /// Vocabulary pieces by bytes; in `rankMerge` mode followed by merge-only pieces
    /// (ids `vocabularySize...`).
    private let pieces: SentencePiecePieceTable
    /// `[vocabularySize]` merge priority (`scoreMerge`); missing scores count as 0.
    private let scores: [Float]
    /// Merge ranks by piece ids (`rankMerge`).
    private let merges: SentencePieceMergeTable
    /// `[256]` the `<0xXX>` token of each byte, -1 where absent.
    private let byteTokens: [Int32]
    /// Decoded bytes of every token, back to back (llama.cpp's `cache_token_to_piece`).
    private let decodedBytes: [UInt8]
    /// `[vocabularySize + 1]` token `i` decodes to `decodedBytes[decodedOffsets[i] ..< decodedOffsets[i + 1]]`.
    private let decodedOffsets: [Int32]
    /// Cuts special tokens out of text (llama.cpp's `tokenizer_st_partition`).
    private let specialSplitter: SpecialTokenSplitter

    /// Builds the tokenizer; throws when the vocabulary's arrays disagree in length.
    public init(vocabulary: TokenizerVocabulary) throws {
        let count = vocabulary.tokens.count
        guard count > 0, count < Int(Int32.max) / 2 else {
            throw KilnError.invalidArgument("SentencePiece vocabulary: \(count) tokens")
        }
        guard vocabulary.kinds.count == count else {
            throw KilnError.invalidArgument("SentencePiece vocabulary: \(vocabulary.kinds.count) token kinds for \(count) tokens")
        }
        guard vocabulary.scores.isEmpty || vocabulary.scores.count == count else {
            throw KilnError.invalidArgument("SentencePiece vocabulary: \(vocabulary.scores.count) scores for \(count) tokens")
        }
        algorithm = vocabulary.merges.isEmpty ? .scoreMerge : .rankMerge
        addSpacePrefix = vocabulary.addSpacePrefix
        splitsAtNewlines = vocabulary.model == "gemma4" || vocabulary.preTokenizer == "gemma4"
        vocabularySize = count
        specialTokens = vocabulary.specialTokens
        tokens = vocabulary.tokens
        kinds = vocabulary.kinds
        scores = vocabulary.scores

        var pieces = SentencePiecePieceTable(expectedCount: count + (vocabulary.merges.isEmpty ? 0 : count / 4))
        for (id, token) in vocabulary.tokens.enumerated() where !token.isEmpty {
            pieces.insert(Array(token.utf8), id: Int32(id))
        }
        var merges = SentencePieceMergeTable(expectedCount: vocabulary.merges.count)
        if !vocabulary.merges.isEmpty {
            try Self.addMerges(vocabulary.merges, to: &merges, pieces: &pieces, vocabularySize: count)
        }
        self.merges = merges

        var byteTokens = [Int32](repeating: -1, count: 256)
        let hexDigits = Array("0123456789ABCDEF".utf8)
        for byte in 0..<256 {
            let spelled: [UInt8] = [0x3C, 0x30, 0x78, hexDigits[byte >> 4], hexDigits[byte & 15], 0x3E] // <0xXX>
            var id = pieces.lookup(spelled)
            // llama.cpp's SPM `byte_to_token` falls back to the byte spelled as itself.
            if id < 0 || Int(id) >= count, algorithm == .scoreMerge, byte < 0x80 {
                id = pieces.lookup([UInt8(byte)])
            }
            byteTokens[byte] = id >= 0 && Int(id) < count ? id : -1
        }
        self.byteTokens = byteTokens
        self.pieces = pieces

        var decodedBytes: [UInt8] = []
        var decodedOffsets: [Int32] = [0]
        decodedBytes.reserveCapacity(count * 8)
        decodedOffsets.reserveCapacity(count + 1)
        for id in 0..<count {
            decodedBytes.append(contentsOf: Self.decodedPiece(vocabulary.tokens[id], kind: vocabulary.kinds[id]))
            decodedOffsets.append(Int32(decodedBytes.count))
        }
        self.decodedBytes = decodedBytes
        self.decodedOffsets = decodedOffsets
        specialSplitter = SpecialTokenSplitter(tokens: vocabulary.tokens, kinds: vocabulary.kinds)
    }

    // MARK: Encoding

    /// Token ids for `text`; see `Tokenizer.encode`.
    public func encode(_ text: String, addSpecialTokens: Bool, parseSpecial: Bool) -> [Int] {
        var text = text
        var output: [Int] = []
        output.reserveCapacity(text.utf8.count / 3 + 2)
        if addSpecialTokens, specialTokens.addBOS, let bos = specialTokens.bos { output.append(bos) }

        text.withUTF8 { utf8 in
            var session = EncodeSession()
            var previousWasSpecial = true
            for segment in specialSplitter.split(utf8: utf8, parseSpecial: parseSpecial) {
                switch segment {
                case .token(let id):
                    output.append(id)
                    previousWasSpecial = true
                case .text(let range):
                    encodeFragment(UnsafeBufferPointer(rebasing: utf8[range]),
                                   spacePrefix: addSpacePrefix && previousWasSpecial,
                                   session: &session, into: &output)
                    previousWasSpecial = false
                }
            }
        }

        if addSpecialTokens, specialTokens.addEOS, let eos = specialTokens.eos { output.append(eos) }
        return output
    }

    /// Scratch space for one `encode` call, reused across its fragments.
    private struct EncodeSession {
        /// The fragment with spaces written "▁" (U+2581, bytes E2 96 81).
        var escaped: [UInt8] = []
        var scoreMerger = SentencePieceScoreMerger()
        var rankMerger = SentencePieceRankMerger()
    }

    /// Escapes one text fragment (no special tokens in it) and merges it.
    private func encodeFragment(_ text: UnsafeBufferPointer<UInt8>, spacePrefix: Bool,
                                session: inout EncodeSession, into output: inout [Int]) {
        guard !text.isEmpty else { return }
        var escaped: [UInt8] = []
        swap(&escaped, &session.escaped)
        defer { swap(&escaped, &session.escaped) }
        escaped.removeAll(keepingCapacity: true)
        escaped.reserveCapacity(text.count + text.count / 2 + 3)
        if spacePrefix { escaped.append(contentsOf: [0xE2, 0x96, 0x81]) }
        for byte in text {
            if byte == 0x20 {
                escaped.append(0xE2); escaped.append(0x96); escaped.append(0x81)
            } else {
                escaped.append(byte)
            }
        }

        escaped.withUnsafeBufferPointer { escaped in
            switch algorithm {
            case .scoreMerge:
                session.scoreMerger.encode(escaped, pieces: pieces, scores: scores, byteTokens: byteTokens,
                                           unknown: Int32(specialTokens.unknown ?? -1), into: &output)
            case .rankMerge:
                guard splitsAtNewlines else {
                    session.rankMerger.encode(word: escaped, pieces: pieces, merges: merges,
                                              vocabularySize: vocabularySize, byteTokens: byteTokens,
                                              wholeWord: false, into: &output)
                    return
                }
                // Runs of newlines and runs of anything else (llama.cpp's "[^\n]+|[\n]+").
                var start = 0
                while start < escaped.count {
                    let isNewline = escaped[start] == 0x0A
                    var end = start + 1
                    while end < escaped.count, (escaped[end] == 0x0A) == isNewline { end += 1 }
                    let word = UnsafeBufferPointer(rebasing: escaped[start..<end])
                    // A newline run that is itself a token is taken whole (llama.cpp PR 21343).
                    let runID = isNewline ? pieces.lookup(word.baseAddress, word.count) : -1
                    session.rankMerger.encode(word: word, pieces: pieces, merges: merges,
                                              vocabularySize: vocabularySize, byteTokens: byteTokens,
                                              wholeWord: runID >= 0 && Int(runID) < vocabularySize,
                                              into: &output)
                    start = end
                }
            }
        }
    }

    /// Reads `merges` ("left right", in rank order) into `table`, adding to `pieces` the sides
    /// and results that are not vocabulary tokens.
    private static func addMerges(_ merges: [String], to table: inout SentencePieceMergeTable,
                                  pieces: inout SentencePiecePieceTable, vocabularySize: Int) throws {
        var nextExtraID = Int32(vocabularySize)
        var joined: [UInt8] = []
        func intern(_ bytes: UnsafeBufferPointer<UInt8>) -> Int32 {
            let id = pieces.lookup(bytes.baseAddress, bytes.count)
            if id >= 0 { return id }
            pieces.insert(bytes, id: nextExtraID)
            nextExtraID += 1
            return nextExtraID - 1
        }
        for (rank, merge) in merges.enumerated() {
            let utf8 = Array(merge.utf8)
            // Split at the first space after the first byte, as llama.cpp does, so that a left
            // side beginning with a space would survive; malformed lines are skipped.
            guard utf8.count >= 3, let space = utf8[1...].firstIndex(of: 0x20) else { continue }
            guard space + 1 < utf8.count else { continue }
            joined.removeAll(keepingCapacity: true)
            joined.append(contentsOf: utf8[..<space])
            joined.append(contentsOf: utf8[(space + 1)...])
            let (left, right) = utf8.withUnsafeBufferPointer { bytes in
                (intern(UnsafeBufferPointer(rebasing: bytes[..<space])),
                 intern(UnsafeBufferPointer(rebasing: bytes[(space + 1)...])))
            }
            let merged = joined.withUnsafeBufferPointer { intern($0) }
            table.insert(left: left, right: right, rank: Int32(rank), merged: merged)
        }
        guard nextExtraID < Int32.max / 2 else {
            throw KilnError.invalidArgument("SentencePiece vocabulary: too many merge pieces")
        }
    }

    // MARK: Decoding

    /// What a token stands for in text: "▁" read as a space, byte tokens as their byte, control,
    /// unknown and user-defined tokens as their text, unused and undefined ones as nothing
    /// (llama.cpp's `token_to_piece`).
    private static func decodedPiece(_ token: String, kind: TokenKind) -> [UInt8] {
        switch kind {
        case .control, .unknown, .userDefined:
            return Array(token.utf8)
        case .byte:
            let utf8 = Array(token.utf8)
            if utf8.count == 6, utf8[0] == 0x3C, utf8[1] == 0x30, utf8[2] == 0x78, utf8[5] == 0x3E,
               let high = hexValue(utf8[3]), let low = hexValue(utf8[4]) {
                return [high << 4 | low]
            }
            return utf8
        case .normal:
            var bytes: [UInt8] = []
            let utf8 = Array(token.utf8)
            bytes.reserveCapacity(utf8.count)
            var i = 0
            while i < utf8.count {
                if i + 2 < utf8.count, utf8[i] == 0xE2, utf8[i + 1] == 0x96, utf8[i + 2] == 0x81 {
                    bytes.append(0x20)
                    i += 3
                } else {
                    bytes.append(utf8[i])
                    i += 1
                }
            }
            return bytes
        case .unused, .undefined:
            return []
        }
    }

    /// Value of one hexadecimal digit.
    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 0x30...0x39: return digit - 0x30
        case 0x41...0x46: return digit - 0x41 + 10
        case 0x61...0x66: return digit - 0x61 + 10
        default: return nil
        }
    }

    /// Raw bytes of a token for the incremental detokenizer; empty when out of range.
    public func tokenBytes(_ id: Int) -> [UInt8] {
        guard id >= 0, id < vocabularySize else { return [] }
        return Array(decodedBytes[Int(decodedOffsets[id])..<Int(decodedOffsets[id + 1])])
    }

    /// The vocabulary's spelling of `id` ("▁the", "<0x0A>").
    public func tokenString(_ id: Int) -> String? {
        guard id >= 0, id < vocabularySize else { return nil }
        return tokens[id]
    }

    /// The id spelled exactly `string` (byte-exact; the last one when spellings repeat).
    public func tokenID(_ string: String) -> Int? {
        let id = pieces.lookup(Array(string.utf8))
        return id >= 0 && Int(id) < vocabularySize ? Int(id) : nil
    }

    /// Text for `ids`. With `addSpacePrefix`, the space that encoding put before the first text
    /// token (after any leading control tokens such as BOS) is removed, so `decode(encode(x)) == x`.
    /// llama.cpp's `detokenize` removes it only when the first id is not BOS, and applies
    /// `clean_spaces` to BPE vocabularies; Kiln does neither, preferring exact round trips.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        var stripSpace = addSpacePrefix
        for id in ids where id >= 0 && id < vocabularySize {
            let kind = kinds[id]
            let isSpecial = kind == .control || kind == .unknown
            if isSpecial && skipSpecialTokens { continue }
            var start = Int(decodedOffsets[id])
            let end = Int(decodedOffsets[id + 1])
            if !isSpecial && stripSpace {
                if start < end, decodedBytes[start] == 0x20 { start += 1 }
                stripSpace = false
            }
            bytes.append(contentsOf: decodedBytes[start..<end])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
