/// Splits template source into tokens, applying Jinja's whitespace rules as Hugging Face sets
/// them: `trim_blocks` (drop the newline after a block or comment tag), `lstrip_blocks` (drop
/// the indentation before one), `-` on a tag to strip all whitespace on that side, `+` to keep it.
///
/// Mirrors `jinja2.lexer.Lexer.tokeniter`: newlines are normalised to `\n` and one trailing
/// newline is dropped (`keep_trailing_newline=False`); `{% raw %}` bodies become text.
struct Lexer {
    private var source: [Unicode.Scalar]
    private var position = 0
    private var line = 1
    private var tokens: [Token] = []
    /// Whether the previous tag's end consumed a newline, so a tag at the very start of the next
    /// text is at the start of a line (Jinja's `line_starting`).
    private var lineStarting = true

    /// The tokens of `source`, ending with `.end`.
    static func tokenize(_ source: String) throws -> [Token] {
        var lexer = Lexer(source: normalizeNewlines(source))
        try lexer.run()
        lexer.tokens.append(Token(kind: .end, line: lexer.line))
        return lexer.tokens
    }

    private init(source: [Unicode.Scalar]) { self.source = source }

    /// `\r\n` and `\r` become `\n`; a single final newline is removed.
    private static func normalizeNewlines(_ text: String) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(text.unicodeScalars.count)
        var previousWasCR = false
        for scalar in text.unicodeScalars {
            if scalar == "\n", previousWasCR { previousWasCR = false; continue }
            previousWasCR = scalar == "\r"
            result.append(previousWasCR ? "\n" : scalar)
        }
        if result.last == "\n" { result.removeLast() }
        return result
    }

    private func syntaxError(_ message: String, line: Int? = nil) -> ChatTemplateError {
        ChatTemplateError(.syntax, message, line: line ?? self.line)
    }

    private func at(_ offset: Int) -> Unicode.Scalar? {
        let index = position + offset
        return index < source.count ? source[index] : nil
    }

    private func matches(_ text: String, at index: Int) -> Bool {
        var cursor = index
        for scalar in text.unicodeScalars {
            guard cursor < source.count, source[cursor] == scalar else { return false }
            cursor += 1
        }
        return true
    }

    /// Moves past `count` scalars, counting the newlines crossed.
    private mutating func advance(_ count: Int) {
        let end = min(position + count, source.count)
        for index in position..<end where source[index] == "\n" { line += 1 }
        position = end
    }

    /// Moves past whitespace; returns whether the last scalar consumed was a newline.
    @discardableResult
    private mutating func skipWhitespace() -> Bool {
        var lastWasNewline = false
        while position < source.count, PythonText.isWhitespace(source[position]) {
            lastWasNewline = source[position] == "\n"
            advance(1)
        }
        return lastWasNewline
    }

    private mutating func run() throws {
        while position < source.count {
            guard let tagStart = nextTagStart(from: position) else {
                emitText(source[position...], line: line)
                advance(source.count - position)
                return
            }
            let opener = source[tagStart + 1]
            var contentStart = tagStart + 2
            var sign: Unicode.Scalar?
            if contentStart < source.count, source[contentStart] == "-" || source[contentStart] == "+" {
                sign = source[contentStart]
                contentStart += 1
            }
            let rawEnd = opener == "%" ? rawBeginEnd(from: contentStart) : nil
            let text = strip(source[position..<tagStart], sign: sign, isVariable: opener == "{")
            emitText(text, line: line)
            advance(contentStart - position)
            lineStarting = false
            switch opener {
            case "#":
                try lexComment()
            case "{":
                tokens.append(Token(kind: .variableBegin, line: line))
                try lexTagContents(isBlock: false)
            default:
                if let rawEnd {
                    lineStarting = skipRawBegin(to: rawEnd)
                    try lexRawBody()
                } else {
                    tokens.append(Token(kind: .blockBegin, line: line))
                    try lexTagContents(isBlock: true)
                }
            }
        }
    }

    private func nextTagStart(from start: Int) -> Int? {
        var index = start
        while index + 1 < source.count {
            if source[index] == "{" {
                let next = source[index + 1]
                if next == "{" || next == "%" || next == "#" { return index }
            }
            index += 1
        }
        return nil
    }

    private mutating func emitText(_ text: ArraySlice<Unicode.Scalar>, line: Int) {
        guard !text.isEmpty else { return }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: text)
        tokens.append(Token(kind: .text(String(view)), line: line))
    }

    /// The text before a tag after `-` stripping or `lstrip_blocks` (Jinja's `OptionalLStrip`).
    private func strip(_ text: ArraySlice<Unicode.Scalar>, sign: Unicode.Scalar?, isVariable: Bool) -> ArraySlice<Unicode.Scalar> {
        if sign == "-" {
            var end = text.endIndex
            while end > text.startIndex, PythonText.isWhitespace(text[end - 1]) { end -= 1 }
            return text[text.startIndex..<end]
        }
        guard sign != "+", !isVariable else { return text }
        let lineStart = (text.lastIndex(of: "\n").map { $0 + 1 }) ?? text.startIndex
        guard lineStart > text.startIndex || lineStarting else { return text }
        let indentation = text[lineStart...]
        guard !indentation.isEmpty, indentation.allSatisfy(PythonText.isWhitespace) else { return text }
        return text[text.startIndex..<lineStart]
    }

    private mutating func lexComment() throws {
        var index = position
        while index + 1 < source.count, !(source[index] == "#" && source[index + 1] == "}") { index += 1 }
        guard index + 1 < source.count else { throw syntaxError("Missing end of comment tag") }
        let sign = index > position ? source[index - 1] : nil
        advance(index + 2 - position)
        finishTag(sign: sign == "-" || sign == "+" ? sign : nil, isBlock: true)
    }

    /// After a tag's closing delimiter: `-` strips following whitespace, `trim_blocks` drops one newline.
    private mutating func finishTag(sign: Unicode.Scalar?, isBlock: Bool) {
        if sign == "-" {
            lineStarting = skipWhitespace()
        } else if sign == nil, isBlock, at(0) == "\n" {
            advance(1)
            lineStarting = true
        } else {
            lineStarting = false
        }
    }

    /// When `{%` at `start` opens `raw`, the index just past the `raw` tag's `%}`.
    private func rawBeginEnd(from start: Int) -> Int? {
        var index = start
        while index < source.count, PythonText.isWhitespace(source[index]) { index += 1 }
        guard matches("raw", at: index) else { return nil }
        index += 3
        while index < source.count, PythonText.isWhitespace(source[index]) { index += 1 }
        if matches("-%}", at: index) {
            index += 3
            while index < source.count, PythonText.isWhitespace(source[index]) { index += 1 }
            return index
        }
        return matches("%}", at: index) ? index + 2 : nil
    }

    /// Consumes the `raw` tag; returns whether it ended on a newline.
    private mutating func skipRawBegin(to end: Int) -> Bool {
        let endsWithNewline = end > position && source[end - 1] == "\n"
        advance(end - position)
        return endsWithNewline
    }

    private mutating func lexRawBody() throws {
        let bodyLine = line
        var index = position
        while let tagStart = nextTagStart(from: index) {
            defer { index = tagStart + 1 }
            guard source[tagStart + 1] == "%" else { continue }
            var cursor = tagStart + 2
            var sign: Unicode.Scalar?
            if cursor < source.count, source[cursor] == "-" || source[cursor] == "+" { sign = source[cursor]; cursor += 1 }
            while cursor < source.count, PythonText.isWhitespace(source[cursor]) { cursor += 1 }
            guard matches("endraw", at: cursor) else { continue }
            cursor += 6
            while cursor < source.count, PythonText.isWhitespace(source[cursor]) { cursor += 1 }
            var endSign: Unicode.Scalar?
            if cursor < source.count, source[cursor] == "-" || source[cursor] == "+" { endSign = source[cursor]; cursor += 1 }
            guard matches("%}", at: cursor) else { continue }
            emitText(strip(source[position..<tagStart], sign: sign, isVariable: false), line: bodyLine)
            advance(cursor + 2 - position)
            finishTag(sign: endSign, isBlock: true)
            return
        }
        throw syntaxError("Missing end of raw directive")
    }

    /// Tokens up to the tag's closing `%}` or `}}`; brackets must balance before the close counts.
    private mutating func lexTagContents(isBlock: Bool) throws {
        var brackets: [Unicode.Scalar] = []
        let close: Unicode.Scalar = isBlock ? "%" : "}"
        while true {
            guard position < source.count else {
                let expected = isBlock ? "end of statement block" : "end of print statement"
                throw syntaxError("unexpected end of template, expected '\(expected)'.")
            }
            if brackets.isEmpty {
                var sign: Unicode.Scalar?
                var length = 2
                if at(0) == "-" || (isBlock && at(0) == "+") { sign = at(0); length = 3 }
                if at(length - 2) == close, at(length - 1) == "}" {
                    tokens.append(Token(kind: isBlock ? .blockEnd : .variableEnd, line: line))
                    advance(length)
                    finishTag(sign: sign, isBlock: isBlock)
                    return
                }
            }
            let scalar = source[position]
            if PythonText.isWhitespace(scalar) {
                advance(1)
            } else if scalar.properties.numericType == .decimal, scalar.isASCII {
                lexNumber()
            } else if scalar == "_" || (scalar.properties.isAlphabetic && !scalar.isASCII) || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) {
                lexName()
            } else if scalar == "'" || scalar == "\"" {
                try lexString(quote: scalar)
            } else {
                try lexOperator(&brackets)
            }
        }
    }

    private mutating func lexName() {
        var end = position
        while end < source.count {
            let scalar = source[end]
            guard scalar == "_" || scalar.properties.isAlphabetic || (scalar.isASCII && scalar.properties.numericType == .decimal) else { break }
            end += 1
        }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: source[position..<end])
        tokens.append(Token(kind: .name(String(view)), line: line))
        advance(end - position)
    }

    private func digitRun(from start: Int) -> Int {
        var index = start
        while index < source.count, source[index].isASCII, source[index].properties.numericType == .decimal || (source[index] == "_" && index > start) {
            index += 1
        }
        return index
    }

    private mutating func lexNumber() {
        let start = position
        var end = digitRun(from: start)
        var isFloat = false
        // Jinja's float pattern has `(?<!\.)`: after a dot (`items.0.1`) digits are indices.
        let afterDot = start > 0 && source[start - 1] == "."
        if !afterDot {
            if end + 1 < source.count, source[end] == ".", source[end + 1].isASCII, source[end + 1].properties.numericType == .decimal {
                isFloat = true
                end = digitRun(from: end + 1)
            }
            if end < source.count, source[end] == "e" || source[end] == "E" {
                var exponent = end + 1
                if exponent < source.count, source[exponent] == "+" || source[exponent] == "-" { exponent += 1 }
                let exponentEnd = digitRun(from: exponent)
                if exponentEnd > exponent { isFloat = true; end = exponentEnd }
            }
        }
        var text = ""
        text.unicodeScalars.append(contentsOf: source[start..<end].filter { $0 != "_" })
        if !isFloat, text == "0", end + 1 < source.count, source[end] == "x" || source[end] == "X" {
            var hexEnd = end + 1
            while hexEnd < source.count, source[hexEnd].properties.isASCIIHexDigit { hexEnd += 1 }
            var digits = ""
            digits.unicodeScalars.append(contentsOf: source[(end + 1)..<hexEnd])
            if let value = Int(digits, radix: 16) {
                tokens.append(Token(kind: .integer(value), line: line))
                advance(hexEnd - position)
                return
            }
        }
        if !isFloat, let value = Int(text) {
            tokens.append(Token(kind: .integer(value), line: line))
        } else {
            tokens.append(Token(kind: .float(Double(text) ?? .infinity), line: line))
        }
        advance(end - position)
    }

    private mutating func lexString(quote: Unicode.Scalar) throws {
        var index = position + 1
        while index < source.count, source[index] != quote {
            index += source[index] == "\\" ? 2 : 1
        }
        guard index < source.count else {
            throw syntaxError("unexpected char \(PythonText.repr(String(quote))) at \(position)")
        }
        let startLine = line
        let value = try StringLiteral.decode(source[(position + 1)..<index], line: startLine)
        tokens.append(Token(kind: .string(value), line: startLine))
        advance(index + 1 - position)
    }

    private static let twoCharacterOperators: Set<String> = ["//", "**", "==", "!=", "<=", ">="]
    private static let oneCharacterOperators: Set<Unicode.Scalar> = [
        "+", "-", "/", "*", "%", "~", "(", ")", "[", "]", "{", "}", "<", ">", "=", ".", ":", "|", ",", ";",
    ]

    private mutating func lexOperator(_ brackets: inout [Unicode.Scalar]) throws {
        let scalar = source[position]
        if let next = at(1) {
            var pair = ""
            pair.unicodeScalars.append(scalar)
            pair.unicodeScalars.append(next)
            if Self.twoCharacterOperators.contains(pair) {
                tokens.append(Token(kind: .op(pair), line: line))
                advance(2)
                return
            }
        }
        guard Self.oneCharacterOperators.contains(scalar) else {
            throw syntaxError("unexpected char \(PythonText.repr(String(scalar))) at \(position)")
        }
        switch scalar {
        case "(": brackets.append(")")
        case "[": brackets.append("]")
        case "{": brackets.append("}")
        case ")", "]", "}":
            guard let expected = brackets.popLast() else { throw syntaxError("unexpected '\(scalar)'") }
            guard expected == scalar else { throw syntaxError("unexpected '\(scalar)', expected '\(expected)'") }
        default: break
        }
        tokens.append(Token(kind: .op(String(scalar)), line: line))
        advance(1)
    }
}
