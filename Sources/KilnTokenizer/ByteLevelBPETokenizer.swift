import KilnCore

/// Byte-level BPE (GPT-2, Llama 3, Qwen 2, SmolLM): text is cut at special tokens, split into
/// words by a `PreTokenizer`, each word's UTF-8 bytes become one symbol per byte, and merges
/// apply by rank. Every byte has a token, so nothing is ever unknown. Matches llama.cpp's
/// `llm_tokenizer_bpe` token for token.
public struct ByteLevelBPETokenizer: Tokenizer {
    /// Number of token ids.
    public let vocabularySize: Int
    /// Special ids and the BOS/EOS rule.
    public let specialTokens: SpecialTokens
    /// How words are cut before merging.
    public let preTokenizer: PreTokenizer
    /// llama.cpp's `ignore_merges` (Llama 3): a word spelled exactly like a vocabulary entry
    /// becomes that entry without running merges (which could otherwise split it).
    public let ignoresMergesForWholeWords: Bool

    private let tokens: [String]
    private let kinds: [TokenKind]
    private let idsBySpelling: [String: Int]
    /// Token id of each single byte, -1 when a vocabulary lacks one, `[256]`.
    private let byteTokenIDs: [Int32]
    private let merges: BPEMergeTable
    /// Detokenized bytes of every token; indexed by bytes when `ignoresMergesForWholeWords`.
    private let tokenByteTable: TokenByteTable
    private let splitter: SpecialTokenSplitter

    /// Builds the tokenizer from a vocabulary with merges.
    /// - strip: whitespace that added tokens absorb (tokenizer.json `lstrip`/`rstrip`).
    /// - Throws: `KilnError.invalidArgument` for an unknown pre-tokenizer or inconsistent arrays.
    public init(vocabulary: TokenizerVocabulary, strip: [Int: SpecialTokenSplitter.Strip] = [:]) throws {
        guard let preTokenizer = PreTokenizer(ggmlName: vocabulary.preTokenizer) else {
            throw KilnError.invalidArgument(
                "byte-level BPE: pre-tokenizer '\(vocabulary.preTokenizer)' is not supported (Kiln implements gpt-2, llama-bpe, qwen2, smollm and their aliases)")
        }
        guard vocabulary.kinds.count == vocabulary.tokens.count else {
            throw KilnError.invalidArgument(
                "byte-level BPE: \(vocabulary.tokens.count) tokens but \(vocabulary.kinds.count) token kinds")
        }
        let tokens = vocabulary.tokens
        let kinds = vocabulary.kinds
        self.tokens = tokens
        self.kinds = kinds
        self.vocabularySize = tokens.count
        self.specialTokens = vocabulary.specialTokens
        self.preTokenizer = preTokenizer
        self.ignoresMergesForWholeWords = preTokenizer == .llama3

        var idsBySpelling: [String: Int] = [:]
        idsBySpelling.reserveCapacity(tokens.count)
        for (id, spelling) in tokens.enumerated() where idsBySpelling[spelling] == nil {
            idsBySpelling[spelling] = id
        }
        self.idsBySpelling = idsBySpelling

        byteTokenIDs = (0..<256).map { byte in
            Int32(idsBySpelling[String(ByteLevelAlphabet.scalarForByte[byte])] ?? -1)
        }

        var pairs: [(left: Int32, right: Int32, merged: Int32)] = []
        pairs.reserveCapacity(vocabulary.merges.count)
        for merge in vocabulary.merges {
            // "left right", split at the first space after the first character (llama.cpp's rule).
            guard let space = merge.dropFirst().firstIndex(of: " ") else { continue }
            let left = String(merge[..<space])
            let right = String(merge[merge.index(after: space)...])
            guard let leftID = idsBySpelling[left], let rightID = idsBySpelling[right],
                  let mergedID = idsBySpelling[left + right] else { continue }
            pairs.append((Int32(leftID), Int32(rightID), Int32(mergedID)))
        }
        merges = BPEMergeTable(merges: pairs)

        tokenByteTable = TokenByteTable(
            count: tokens.count,
            indexed: preTokenizer == .llama3,
            // llama.cpp looks whole words up by spelling; a spelling equals the byte-level
            // encoding of a word only for normal tokens and plain-ASCII specials.
            isIndexed: { id in
                kinds[id] == .normal || ByteLevelAlphabet.decode(tokens[id]) == Array(tokens[id].utf8)
            },
            bytes: { id in Self.detokenizedBytes(tokens[id], kind: kinds[id]) })
        splitter = SpecialTokenSplitter(tokens: tokens, kinds: kinds, strip: strip)
    }

    /// The bytes a token detokenizes to, by kind (llama.cpp's `token_to_piece` for BPE).
    private static func detokenizedBytes(_ spelling: String, kind: TokenKind) -> [UInt8] {
        switch kind {
        case .control, .userDefined, .unknown:
            return Array(spelling.utf8) // added tokens are stored as their text
        case .normal:
            // Characters outside the byte alphabet cannot come from a converter; keep their UTF-8.
            var bytes: [UInt8] = []
            for scalar in spelling.unicodeScalars {
                if let byte = ByteLevelAlphabet.byte(for: scalar) {
                    bytes.append(byte)
                } else {
                    bytes.append(contentsOf: String(scalar).utf8)
                }
            }
            return bytes
        case .byte:
            // "<0x0A>": a byte-fallback entry, which byte-level vocabularies rarely carry.
            let hex = spelling.utf8.count == 6 && spelling.hasPrefix("<0x") && spelling.hasSuffix(">")
                ? UInt8(spelling.dropFirst(3).prefix(2), radix: 16) : nil
            return hex.map { [$0] } ?? []
        case .unused, .undefined:
            return []
        }
    }

    /// Token ids for `text`; see `Tokenizer.encode`.
    public func encode(_ text: String, addSpecialTokens: Bool, parseSpecial: Bool) -> [Int] {
        var output: [Int] = []
        output.reserveCapacity(text.utf8.count / 3 + 2)
        if addSpecialTokens && specialTokens.addBOS, let bos = specialTokens.bos { output.append(bos) }
        var text = text
        text.withUTF8 { bytes in
            var scratch = EncodeScratch()
            for segment in splitter.split(utf8: bytes, parseSpecial: parseSpecial) {
                switch segment {
                case let .token(id):
                    output.append(id)
                case let .text(range):
                    encodePlain(UnsafeBufferPointer(rebasing: bytes[range]), into: &output, scratch: &scratch)
                }
            }
        }
        if addSpecialTokens && specialTokens.addEOS, let eos = specialTokens.eos { output.append(eos) }
        return output
    }

    /// Buffers reused across the words of one `encode` call.
    private struct EncodeScratch {
        var words: [Range<Int>] = []
        var symbols: [Int32] = []
        var merger = BPEWordMerger()
        var cache = BPEWordCache()
    }

    /// Encodes plain text (no special tokens) by words.
    private func encodePlain(_ bytes: UnsafeBufferPointer<UInt8>, into output: inout [Int],
                             scratch: inout EncodeScratch) {
        let text = ScalarText(utf8: bytes)
        scratch.words.removeAll(keepingCapacity: true)
        preTokenizer.wordRanges(in: text, into: &scratch.words)
        for word in scratch.words {
            let start = Int(text.byteOffsets[word.lowerBound])
            let end = Int(text.byteOffsets[word.upperBound])
            let wordBytes = UnsafeBufferPointer(rebasing: bytes[start..<end])
            if wordBytes.count == 1 {
                let id = byteTokenIDs[Int(wordBytes[0])]
                if id >= 0 { output.append(Int(id)) }
                continue
            }
            if ignoresMergesForWholeWords, let id = tokenByteTable.id(of: wordBytes) {
                output.append(id)
                continue
            }
            let hash = BPEWordCache.hash(wordBytes)
            if scratch.cache.appendCached(wordBytes, hash: hash, to: &output) { continue }
            scratch.symbols.removeAll(keepingCapacity: true)
            for byte in wordBytes { scratch.symbols.append(byteTokenIDs[Int(byte)]) }
            let first = output.count
            scratch.merger.merge(scratch.symbols, table: merges, into: &output)
            scratch.cache.insert(wordBytes, hash: hash, ids: output[first...])
        }
    }

    /// The bytes token `id` stands for (empty when out of range or unused).
    public func tokenBytes(_ id: Int) -> [UInt8] {
        guard id >= 0 && id < vocabularySize else { return [] }
        return Array(tokenByteTable.bytes(of: id))
    }

    /// The vocabulary's spelling of token `id` ("Ġthe").
    public func tokenString(_ id: Int) -> String? {
        id >= 0 && id < vocabularySize ? tokens[id] : nil
    }

    /// The id spelled exactly `string` in the vocabulary.
    public func tokenID(_ string: String) -> Int? {
        idsBySpelling[string]
    }

    /// Text for `ids`: their bytes concatenated, invalid UTF-8 shown as U+FFFD. Spaces are kept
    /// as they are (no `clean_up_tokenization_spaces`), so `decode(encode(text)) == text`.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && id < vocabularySize {
            if skipSpecialTokens && (kinds[id] == .control || kinds[id] == .unknown) { continue }
            tokenByteTable.append(id, to: &bytes)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
