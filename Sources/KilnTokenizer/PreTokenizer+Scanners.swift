/// The scanners behind `PreTokenizer`: one left-to-right pass each, trying the regex's
/// alternatives in order at every position, as the regex engine would. They follow llama.cpp's
/// `unicode_regex_split_custom_gpt2/llama3` decisions, including what counts as "end of text"
/// for lookaheads (the end of the piece being scanned).
extension PreTokenizer {
    private static let apostrophe: UInt32 = 0x27
    private static let space: UInt32 = 0x20
    private static let carriageReturn: UInt32 = 0x0D
    private static let lineFeed: UInt32 = 0x0A
    private static let wordClasses = ScalarClass.letter | ScalarClass.number | ScalarClass.whitespace

    /// Length of an English contraction (`'s 't 'm 'd 're 've 'll`) starting at `position`, or 0.
    /// `caseInsensitive` is Llama 3's `(?i:...)`, which only ever folds ASCII letters here.
    @inline(__always)
    private static func contractionLength(_ scalars: [UInt32], at position: Int, end: Int,
                                          caseInsensitive: Bool) -> Int {
        guard scalars[position] == apostrophe, position + 1 < end else { return 0 }
        func fold(_ value: UInt32) -> UInt32 {
            caseInsensitive && value >= 0x41 && value <= 0x5A ? value + 0x20 : value
        }
        let next = fold(scalars[position + 1])
        switch next {
        case 0x73, 0x74, 0x6D, 0x64: return 2 // s t m d
        default: break
        }
        guard position + 2 < end else { return 0 }
        let after = fold(scalars[position + 2])
        switch (next, after) {
        case (0x72, 0x65), (0x76, 0x65), (0x6C, 0x6C): return 3 // re ve ll
        default: return 0
        }
    }

    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    /// over scalars `start..<end`.
    static func scanGPT2(_ text: ScalarText, from start: Int, to end: Int, into words: inout [Range<Int>]) {
        let scalars = text.scalars
        let classes = text.classes
        var position = start
        while position < end {
            let contraction = contractionLength(scalars, at: position, end: end, caseInsensitive: false)
            if contraction > 0 {
                words.append(position..<position + contraction)
                position += contraction
                continue
            }
            // ` ?X+`: a leading space joins a run of letters, digits or punctuation after it.
            let hasSpace = scalars[position] == space
            let probe = hasSpace ? position + 1 : position
            if probe < end {
                let probeClass = classes[probe]
                let runClass: UInt8? =
                    probeClass & ScalarClass.letter != 0 ? ScalarClass.letter
                    : probeClass & ScalarClass.number != 0 ? ScalarClass.number
                    : probeClass & wordClasses == 0 ? 0 : nil
                if let runClass {
                    var cursor = probe + 1
                    if runClass == 0 {
                        while cursor < end && classes[cursor] & wordClasses == 0 { cursor += 1 }
                    } else {
                        while cursor < end && classes[cursor] & runClass != 0 { cursor += 1 }
                    }
                    words.append(position..<cursor)
                    position = cursor
                    continue
                }
            }
            position = scanWhitespace(scalars, classes, at: position, end: end, newlines: false, into: &words)
        }
    }

    /// Llama 3 (`maxDigits` 3) and Qwen 2 (`maxDigits` 1):
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+` over scalars `start..<end`.
    static func scanLlama3(_ text: ScalarText, from start: Int, to end: Int, maxDigits: Int,
                           into words: inout [Range<Int>]) {
        let scalars = text.scalars
        let classes = text.classes
        var position = start
        while position < end {
            let contraction = contractionLength(scalars, at: position, end: end, caseInsensitive: true)
            if contraction > 0 {
                words.append(position..<position + contraction)
                position += contraction
                continue
            }
            let scalar = scalars[position]
            let scalarClass = classes[position]
            let isNewline = scalar == carriageReturn || scalar == lineFeed
            // `[^\r\n\p{L}\p{N}]?\p{L}+`: one optional non-letter (space, punctuation, ...) prefix.
            if !isNewline && scalarClass & ScalarClass.number == 0 {
                let nextIsLetter = position + 1 < end && classes[position + 1] & ScalarClass.letter != 0
                if scalarClass & ScalarClass.letter != 0 || nextIsLetter {
                    var cursor = position + 1
                    while cursor < end && classes[cursor] & ScalarClass.letter != 0 { cursor += 1 }
                    words.append(position..<cursor)
                    position = cursor
                    continue
                }
            }
            // `\p{N}{1,maxDigits}`: longer runs become several words, left-aligned.
            if scalarClass & ScalarClass.number != 0 {
                var cursor = position + 1
                while cursor < end && cursor - position < maxDigits && classes[cursor] & ScalarClass.number != 0 {
                    cursor += 1
                }
                words.append(position..<cursor)
                position = cursor
                continue
            }
            // ` ?[^\s\p{L}\p{N}]+[\r\n]*`. A trailing lone space (probe past the end) also lands
            // here and becomes the one-space word `\s+` would have made.
            let hasSpace = scalar == space
            let probe = hasSpace ? position + 1 : position
            if probe >= end || classes[probe] & wordClasses == 0 {
                var cursor = probe
                while cursor < end && classes[cursor] & wordClasses == 0 { cursor += 1 }
                while cursor < end && (scalars[cursor] == carriageReturn || scalars[cursor] == lineFeed) {
                    cursor += 1
                }
                words.append(position..<cursor)
                position = cursor
                continue
            }
            position = scanWhitespace(scalars, classes, at: position, end: end, newlines: true, into: &words)
        }
    }

    /// The whitespace alternatives: `\s*[\r\n]+` (when `newlines`), then `\s+(?!\S)`, then `\s+`.
    /// Returns the position after the word it appended.
    @inline(__always)
    private static func scanWhitespace(_ scalars: [UInt32], _ classes: [UInt8], at position: Int, end: Int,
                                       newlines: Bool, into words: inout [Range<Int>]) -> Int {
        var cursor = position
        var afterLastNewline = -1
        while cursor < end && classes[cursor] & ScalarClass.whitespace != 0 {
            if newlines && (scalars[cursor] == carriageReturn || scalars[cursor] == lineFeed) {
                afterLastNewline = cursor + 1
            }
            cursor += 1
        }
        let runLength = cursor - position
        let wordEnd: Int
        if afterLastNewline >= 0 {
            wordEnd = afterLastNewline
        } else if runLength > 1 && cursor < end {
            // `\s+(?!\S)` backs off one scalar so the last space can prefix the next word.
            wordEnd = cursor - 1
        } else if runLength > 0 {
            wordEnd = cursor
        } else {
            wordEnd = position + 1 // no alternative matched: the scalar stands alone
        }
        words.append(position..<wordEnd)
        return wordEnd
    }
}
