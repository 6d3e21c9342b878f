/// Turns a stream of token ids into text as it grows, for streaming generation: each `append`
/// returns only the newly completed text. Bytes of a UTF-8 character split across tokens (an
/// emoji spread over byte-level tokens, `<0xE4>` byte-fallback pieces) are held back until the
/// character is complete, so no call ever returns half a character or a stray U+FFFD.
public struct IncrementalDetokenizer: Sendable {
    /// The tokenizer whose `tokenBytes` are concatenated.
    public let tokenizer: any Tokenizer
    /// Whether control tokens (BOS, EOS, `<|im_end|>`) are left out of the text.
    public let skipSpecialTokens: Bool
    /// Bytes received but not yet returned: at most the start of one incomplete character.
    private var pending: [UInt8] = []

    /// Creates a detokenizer with nothing pending.
    public init(tokenizer: any Tokenizer, skipSpecialTokens: Bool = true) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Whether bytes of an incomplete character are waiting for the next token.
    public var hasPendingBytes: Bool { !pending.isEmpty }

    /// Adds one token and returns the text it completes (possibly empty).
    public mutating func append(_ id: Int) -> String {
        if skipSpecialTokens && isSkipped(id) { return "" }
        pending.append(contentsOf: tokenizer.tokenBytes(id))
        let complete = Self.completePrefixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Adds several tokens and returns the text they complete.
    public mutating func append<IDs: Sequence<Int>>(contentsOf ids: IDs) -> String {
        var text = ""
        for id in ids { text += append(id) }
        return text
    }

    /// Returns whatever is pending, an incomplete character becoming U+FFFD, and empties the
    /// buffer (for the end of a stream).
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return pending.isEmpty ? "" : String(decoding: pending, as: UTF8.self)
    }

    /// Whether `id` is a token `decode(skipSpecialTokens: true)` drops. The `Tokenizer` protocol
    /// exposes no token kinds, so the two decodings of the lone token are compared.
    private func isSkipped(_ id: Int) -> Bool {
        tokenizer.decode([id], skipSpecialTokens: true) != tokenizer.decode([id], skipSpecialTokens: false)
    }

    /// Length of the longest prefix of `bytes` that does not end inside a UTF-8 character which
    /// more bytes could still complete. Malformed bytes are not held: they can never complete,
    /// and `String(decoding:)` turns them into U+FFFD.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let count = bytes.count
        // A character is at most 4 bytes, so only its lead byte in the last 3 can be incomplete.
        var index = count - 1
        while index >= 0 && index >= count - 4 {
            let byte = bytes[index]
            if byte < 0x80 { return count }              // ASCII: everything is complete
            if byte & 0xC0 == 0x80 { index -= 1; continue } // continuation byte: look further back
            let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
            guard byte < 0xF8 else { return count }       // not a lead byte in any UTF-8
            return count - index < length ? index : count
        }
        return count
    }
}
