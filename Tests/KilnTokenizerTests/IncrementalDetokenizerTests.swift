@testable import KilnTokenizer
import Testing

@Suite("Incremental detokenizer")
struct IncrementalDetokenizerTests {
    /// Feeds `ids` one at a time; returns the pieces and how often bytes were held back.
    static func stream(_ ids: [Int], _ tokenizer: any Tokenizer, skipSpecialTokens: Bool = true) -> (pieces: [String], heldBack: Int) {
        var detokenizer = IncrementalDetokenizer(tokenizer: tokenizer, skipSpecialTokens: skipSpecialTokens)
        var pieces: [String] = []
        var heldBack = 0
        for id in ids {
            pieces.append(detokenizer.append(id))
            if detokenizer.hasPendingBytes { heldBack += 1 }
        }
        pieces.append(detokenizer.finish())
        return (pieces, heldBack)
    }

    static let text = "Hi 👩‍👩‍👧‍👦 你好，世界 🇯🇵 naïve 𠜎𠜱 ☕️ done"

    @Test("byte-level tokens: emoji and CJK split across tokens come out whole")
    func byteLevel() throws {
        try #require(ByteLevelTestData.hasVocabulary("qwen2"))
        let tokenizer = try ByteLevelTestData.tokenizer("qwen2")
        let ids = tokenizer.encode(Self.text, addSpecialTokens: false, parseSpecial: false)
        let (pieces, heldBack) = Self.stream(ids, tokenizer)
        #expect(pieces.joined() == Self.text)
        #expect(!pieces.joined().unicodeScalars.contains("\u{FFFD}"))
        #expect(heldBack > 0, "the text should put some characters across token boundaries")
        // Every piece is whole characters: re-encoding it as UTF-8 loses nothing.
        for piece in pieces { #expect(String(decoding: Array(piece.utf8), as: UTF8.self) == piece) }
    }

    @Test("control tokens are skipped unless asked for")
    func controlTokens() throws {
        try #require(ByteLevelTestData.hasVocabulary("qwen2"))
        let tokenizer = try ByteLevelTestData.tokenizer("qwen2")
        let ids = tokenizer.encode("<|im_start|>assistant\nOK<|im_end|>", addSpecialTokens: false, parseSpecial: true)
        #expect(Self.stream(ids, tokenizer).pieces.joined() == "assistant\nOK")
        #expect(Self.stream(ids, tokenizer, skipSpecialTokens: false).pieces.joined() == "<|im_start|>assistant\nOK<|im_end|>")
    }

    @Test("an unfinished character at the end becomes U+FFFD only at finish")
    func finish() throws {
        try #require(ByteLevelTestData.hasVocabulary("gpt-2"))
        let tokenizer = try ByteLevelTestData.tokenizer("gpt-2")
        // "🦙" is four byte tokens in GPT-2's vocabulary; send only the first two.
        let ids = tokenizer.encode("🦙", addSpecialTokens: false, parseSpecial: false)
        try #require(ids.count > 2)
        var detokenizer = IncrementalDetokenizer(tokenizer: tokenizer)
        #expect(detokenizer.append(ids[0]) == "")
        #expect(detokenizer.append(ids[1]) == "")
        #expect(detokenizer.hasPendingBytes)
        #expect(detokenizer.finish() == "\u{FFFD}")
        #expect(!detokenizer.hasPendingBytes)
    }

    @Test("works for SentencePiece byte-fallback tokens too")
    func sentencePiece() throws {
        try #require(ByteLevelTestData.hasVocabulary("llama-spm"))
        let tokenizer = try ByteLevelTestData.tokenizer("llama-spm")
        let ids = tokenizer.encode(Self.text, addSpecialTokens: false, parseSpecial: false)
        let expected = String(decoding: ids.flatMap { tokenizer.tokenBytes($0) }, as: UTF8.self)
        let (pieces, heldBack) = Self.stream(ids, tokenizer)
        #expect(pieces.joined() == expected)
        #expect(expected.hasSuffix("𠜎𠜱 ☕️ done"))
        #expect(heldBack > 0, "rare CJK characters should fall back to <0xXX> byte tokens")
    }

    @Test("complete-prefix rule on raw bytes")
    func completePrefix() {
        let euro: [UInt8] = [0xE2, 0x82, 0xAC]
        #expect(IncrementalDetokenizer.completePrefixLength([]) == 0)
        #expect(IncrementalDetokenizer.completePrefixLength([0x41]) == 1)
        #expect(IncrementalDetokenizer.completePrefixLength(euro) == 3)
        #expect(IncrementalDetokenizer.completePrefixLength([0x41] + euro.prefix(2)) == 1)
        #expect(IncrementalDetokenizer.completePrefixLength([0x41, 0xF0]) == 1)
        // Malformed bytes are released (they become U+FFFD) instead of blocking the stream.
        #expect(IncrementalDetokenizer.completePrefixLength([0x41, 0x80, 0x80, 0x80, 0x80]) == 5)
        #expect(IncrementalDetokenizer.completePrefixLength([0x41, 0xFF]) == 2)
    }
}
