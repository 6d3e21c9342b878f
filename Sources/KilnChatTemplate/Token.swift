/// One lexical unit of a template: literal text, a tag delimiter, or a piece of an expression.
struct Token: Sendable, Equatable {
    /// What the token is; expression pieces carry their value.
    enum Kind: Sendable, Equatable {
        /// Literal output between tags, already whitespace-trimmed.
        case text(String)
        /// `{{`
        case variableBegin
        /// `}}`
        case variableEnd
        /// `{%`
        case blockBegin
        /// `%}`
        case blockEnd
        /// An identifier or keyword (`for`, `in`, `loop`, `true`...).
        case name(String)
        /// A string literal, escapes already decoded.
        case string(String)
        /// An integer literal.
        case integer(Int)
        /// A float literal.
        case float(Double)
        /// An operator or punctuation: `+`, `//`, `==`, `(`, `.`, `|`...
        case op(String)
        /// The end of the source.
        case end
    }

    /// What the token is.
    let kind: Kind
    /// The 1-based line the token starts on.
    let line: Int

    /// How Jinja names the token in "unexpected ..." messages.
    var description: String {
        switch kind {
        case .text: return "template data"
        case .variableBegin: return "begin of print statement"
        case .variableEnd: return "end of print statement"
        case .blockBegin: return "begin of statement block"
        case .blockEnd: return "end of statement block"
        case .name(let name): return name
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .op(let op): return op
        case .end: return "end of template"
        }
    }

    /// Whether the token is the name `keyword`.
    func isName(_ keyword: String) -> Bool {
        if case .name(let name) = kind { return name == keyword }
        return false
    }

    /// Whether the token is the operator `symbol`.
    func isOp(_ symbol: String) -> Bool {
        if case .op(let op) = kind { return op == symbol }
        return false
    }
}
