/// Cuts text at the spellings of special tokens before BPE sees it, as llama.cpp's
/// `tokenizer_st_partition` does: user-defined tokens always, control and unknown tokens only
/// when special parsing is on. Tokens are applied longest first, each taking every
/// non-overlapping occurrence left to right in the text that is still plain; this order (not
/// leftmost-longest) decides which of two overlapping spellings wins, so it is kept exactly.
public struct SpecialTokenSplitter: Sendable {
    /// One piece of the split text.
    public enum Segment: Equatable, Sendable {
        /// Plain text: a range of UTF-8 byte offsets into the input.
        case text(Range<Int>)
        /// A special token matched in the input.
        case token(Int)
    }

    /// Whitespace an added token absorbs on its sides (tokenizer.json `lstrip` / `rstrip`).
    public struct Strip: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        /// Creates a strip set from raw bits.
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Drops whitespace just before the token.
        public static let left = Strip(rawValue: 1)
        /// Drops whitespace just after the token.
        public static let right = Strip(rawValue: 2)
    }

    private struct Candidate: Sendable {
        var id: Int
        var bytes: [UInt8]
        /// Control and unknown tokens: matched only when parsing special tokens.
        var needsParseSpecial: Bool
        var strip: Strip
    }

    /// Candidates, longest spelling first (ties by id, for determinism).
    private let candidates: [Candidate]
    /// Byte trie over the candidates' spellings, used to find which ones occur at all.
    private let trie: ByteTrie

    /// Whether any token can ever be split out (lets callers skip the pass entirely).
    public var isEmpty: Bool { candidates.isEmpty }

    /// Collects the control, user-defined and unknown entries of a vocabulary.
    /// - strip: per-id whitespace absorption, from tokenizer.json's added tokens.
    public init(tokens: [String], kinds: [TokenKind], strip: [Int: Strip] = [:]) {
        var candidates: [Candidate] = []
        for (id, kind) in kinds.enumerated() where id < tokens.count {
            guard kind == .control || kind == .userDefined || kind == .unknown else { continue }
            let bytes = Array(tokens[id].utf8)
            guard !bytes.isEmpty else { continue }
            candidates.append(Candidate(id: id, bytes: bytes, needsParseSpecial: kind != .userDefined,
                                        strip: strip[id] ?? []))
        }
        candidates.sort { $0.bytes.count != $1.bytes.count ? $0.bytes.count > $1.bytes.count : $0.id < $1.id }
        self.candidates = candidates
        var trie = ByteTrie()
        for (index, candidate) in candidates.enumerated() { trie.insert(candidate.bytes, value: Int32(index)) }
        self.trie = trie
    }

    /// Splits `text`; `.text` ranges are UTF-8 byte offsets into `text`.
    public func split(_ text: String, parseSpecial: Bool) -> [Segment] {
        var text = text
        return text.withUTF8 { split(utf8: $0, parseSpecial: parseSpecial) }
    }

    /// Splits UTF-8 bytes. Segments are in text order; no `.text` segment is empty.
    func split(utf8 bytes: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Segment] {
        guard !bytes.isEmpty else { return [] }
        let whole = [Segment.text(0..<bytes.count)]
        guard !candidates.isEmpty else { return whole }

        // One trie pass finds the few tokens present, so the per-token passes below (llama.cpp's
        // order) run only for those, not for every one of a vocabulary's hundreds of specials.
        var present = [Bool](repeating: false, count: candidates.count)
        var anyPresent = false
        for start in 0..<bytes.count {
            trie.forEachMatch(in: bytes, from: start) { index in
                let candidate = candidates[Int(index)]
                if parseSpecial || !candidate.needsParseSpecial {
                    present[Int(index)] = true
                    anyPresent = true
                }
            }
        }
        guard anyPresent else { return whole }

        var segments = whole
        for (index, candidate) in candidates.enumerated() where present[index] {
            var refined: [Segment] = []
            refined.reserveCapacity(segments.count + 2)
            for segment in segments {
                guard case let .text(range) = segment else {
                    refined.append(segment)
                    continue
                }
                var start = range.lowerBound
                let end = range.upperBound
                while let match = Self.find(candidate.bytes, in: bytes, from: start, to: end) {
                    var leftEnd = match
                    if candidate.strip.contains(.left) {
                        while leftEnd > start && Self.isSpace(bytes[leftEnd - 1]) { leftEnd -= 1 }
                    }
                    if leftEnd > start { refined.append(.text(start..<leftEnd)) }
                    refined.append(.token(candidate.id))
                    start = match + candidate.bytes.count
                    if candidate.strip.contains(.right) {
                        while start < end && Self.isSpace(bytes[start]) { start += 1 }
                    }
                }
                if start < end { refined.append(.text(start..<end)) }
            }
            segments = refined
        }
        return segments
    }

    /// C `isspace` in the "C" locale, which is what llama.cpp strips with.
    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }

    /// First occurrence of `needle` in `bytes[from..<to]`.
    private static func find(_ needle: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int? {
        let length = needle.count
        guard length > 0, to - from >= length else { return nil }
        let first = needle[0]
        var position = from
        let last = to - length
        while position <= last {
            if bytes[position] == first {
                var offset = 1
                while offset < length && bytes[position + offset] == needle[offset] { offset += 1 }
                if offset == length { return position }
            }
            position += 1
        }
        return nil
    }
}
