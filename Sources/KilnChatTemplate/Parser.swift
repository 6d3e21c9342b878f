/// Builds the statement tree from tokens, following `jinja2.parser.Parser` rule for rule so that
/// precedence and error messages match the reference.
struct Parser {
    let tokens: [Token]
    var index = 0
    /// For each open `subparse`, the end tags it accepts (for "was looking for" messages).
    var endTokenStack: [[String]] = []
    /// The names of the block tags currently open (`for`, `if`...).
    var tagStack: [String] = []
    /// How many `for` bodies enclose the current position; `break` needs one.
    var loopDepth = 0
    /// Expression nesting, bounded (like block nesting, via `tagStack`) so hostile input cannot
    /// overflow the stack.
    var depth = 0
    static let maximumDepth = 200

    /// The statements of a whole template, with every frame's scoping worked out.
    static func parse(_ tokens: [Token]) throws -> Frame {
        var parser = Parser(tokens: tokens)
        let (body, _) = try parser.subparse(until: nil)
        return ScopeAnalysis.analyze(body)
    }

    private init(tokens: [Token]) { self.tokens = tokens }

    var current: Token { tokens[index] }

    func peek(_ offset: Int = 1) -> Token { tokens[min(index + offset, tokens.count - 1)] }

    @discardableResult
    mutating func next() -> Token {
        let token = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    func fail(_ message: String, line: Int? = nil) -> ChatTemplateError {
        ChatTemplateError(.syntax, message, line: line ?? current.line)
    }

    func unexpected(_ token: Token) -> ChatTemplateError {
        fail("unexpected '\(token.description)'", line: token.line)
    }

    mutating func expectName() throws -> String {
        guard case .name(let name) = current.kind else {
            throw fail("expected token 'name', got '\(current.description)'")
        }
        next()
        return name
    }

    mutating func expectName(_ keyword: String) throws {
        guard current.isName(keyword) else {
            throw fail("expected token '\(keyword)', got '\(current.description)'")
        }
        next()
    }

    mutating func expectOp(_ symbol: String) throws {
        guard current.isOp(symbol) else {
            throw fail("expected token '\(symbol)', got '\(current.description)'")
        }
        next()
    }

    mutating func skipOp(_ symbol: String) -> Bool {
        guard current.isOp(symbol) else { return false }
        next()
        return true
    }

    mutating func skipName(_ keyword: String) -> Bool {
        guard current.isName(keyword) else { return false }
        next()
        return true
    }

    mutating func expectBlockEnd() throws {
        guard case .blockEnd = current.kind else {
            throw fail("expected token 'end of statement block', got '\(current.description)'")
        }
        next()
    }

    /// Statements until a block tag named in `endTokens` (left as the current token), or the
    /// end of the template when `endTokens` is `nil`.
    mutating func subparse(until endTokens: [String]?) throws -> (body: [Statement], end: String?) {
        if let endTokens { endTokenStack.append(endTokens) }
        defer { if endTokens != nil { endTokenStack.removeLast() } }
        var body: [Statement] = []
        while true {
            let token = current
            switch token.kind {
            case .text(let text):
                body.append(Statement(kind: .text(text), line: token.line))
                next()
            case .variableBegin:
                next()
                let expression = try parseTuple()
                guard case .variableEnd = current.kind else {
                    throw fail("expected token 'end of print statement', got '\(current.description)'")
                }
                next()
                body.append(Statement(kind: .output(expression), line: token.line))
            case .blockBegin:
                next()
                if let endTokens, case .name(let name) = current.kind, endTokens.contains(name) {
                    return (body, name)
                }
                body.append(try parseStatement())
            case .end:
                if endTokens != nil { throw unknownTag(nil, line: token.line) }
                return (body, nil)
            default:
                throw unexpected(token)
            }
        }
    }

    /// Jinja's `_fail_ut_eof`: an unknown tag, or the end of the template inside a block.
    func unknownTag(_ name: String?, line: Int) -> ChatTemplateError {
        var message = name.map { "Encountered unknown tag '\($0)'." } ?? "Unexpected end of template."
        if let looking = endTokenStack.last {
            let expected = Set(endTokenStack.joined())
            let list = looking.map { "'\($0)'" }.joined(separator: " or ")
            if let name, expected.contains(name) {
                message += " You probably made a nesting mistake. Jinja is expecting this tag, but currently looking for \(list)."
            } else {
                message += " Jinja was looking for the following tags: \(list)."
            }
        }
        if let innermost = tagStack.last {
            message += " The innermost block that needs to be closed is '\(innermost)'."
        }
        return fail(message, line: line)
    }

    /// Tags that open a statement; Jinja's own tags beyond Kiln's subset fail as unsupported.
    static let statementTags: Set<String> = [
        "if", "for", "set", "macro", "call", "filter", "with", "generation", "break", "continue",
        "include", "import", "from", "extends", "block", "autoescape", "do",
    ]

    mutating func parseStatement() throws -> Statement {
        let token = current
        guard case .name(let tag) = token.kind else { throw fail("tag name expected", line: token.line) }
        guard Self.statementTags.contains(tag) else { throw unknownTag(tag, line: token.line) }
        guard tagStack.count < Self.maximumDepth else { throw fail("blocks nested too deeply", line: token.line) }
        let kind: Statement.Kind
        tagStack.append(tag)
        defer { tagStack.removeLast() }
        switch tag {
        case "if": kind = try parseIf()
        case "for": kind = try parseFor()
        case "set": kind = try parseSet()
        case "macro": kind = try parseMacro()
        case "call": kind = try parseCallBlock()
        case "filter": kind = try parseFilterBlock()
        case "with": kind = try parseWith()
        case "generation": kind = try parseGeneration()
        case "break", "continue":
            next()
            guard loopDepth > 0 else { throw fail("'\(tag)' outside of a loop", line: token.line) }
            try expectBlockEnd()
            kind = tag == "break" ? .breakLoop : .continueLoop
        default:
            throw fail("the '\(tag)' tag is not supported", line: token.line)
        }
        return Statement(kind: kind, line: token.line)
    }

    /// The body up to `end`, consuming the closing tag.
    mutating func parseBody(closedBy end: String) throws -> [Statement] {
        let (body, _) = try subparse(until: [end])
        next()
        try expectBlockEnd()
        return body
    }

    /// A body that runs in its own frame.
    mutating func parseFrame(closedBy end: String) throws -> Frame {
        Frame(body: try parseBody(closedBy: end))
    }

    mutating func parseIf() throws -> Statement.Kind {
        next()
        var branches: [(condition: Expression, body: [Statement])] = []
        var condition = try parseTuple(withConditional: false)
        try expectBlockEnd()
        while true {
            let (body, end) = try subparse(until: ["elif", "else", "endif"])
            branches.append((condition, body))
            next()
            switch end {
            case "elif":
                condition = try parseTuple(withConditional: false)
                try expectBlockEnd()
            case "else":
                try expectBlockEnd()
                return .conditional(branches: branches, otherwise: try parseBody(closedBy: "endif"))
            default:
                try expectBlockEnd()
                return .conditional(branches: branches, otherwise: [])
            }
        }
    }

    mutating func parseFor() throws -> Statement.Kind {
        next()
        let target = try parseAssignTarget(withNamespace: false)
        try expectName("in")
        let iterable = try parseTuple(withConditional: false, extraEndNames: ["recursive"])
        var filter: Expression?
        if skipName("if") { filter = try parseExpression() }
        if current.isName("recursive") { throw fail("recursive loops are not supported") }
        try expectBlockEnd()
        loopDepth += 1
        let (body, end) = try subparse(until: ["endfor", "else"])
        loopDepth -= 1
        next()
        try expectBlockEnd()
        let otherwise = end == "else" ? try parseBody(closedBy: "endfor") : []
        return .loop(target: target, iterable: iterable, filter: filter, body: Frame(body: body), otherwise: Frame(body: otherwise))
    }

    /// `name`, `a, b` / `(a, b)`, or (for `set`) `namespace.attribute`.
    mutating func parseAssignTarget(withNamespace: Bool) throws -> AssignTarget {
        if withNamespace, case .name(let namespace) = current.kind, peek().isOp(".") {
            next()
            next()
            return .attribute(namespace: namespace, attribute: try expectName())
        }
        let parenthesized = skipOp("(")
        var names: [String] = []
        repeat {
            if parenthesized, current.isOp(")") { break }
            let line = current.line
            let name = try expectName()
            guard !["true", "false", "none", "True", "False", "None"].contains(name) else {
                throw fail("can't assign to '\(name)'", line: line)
            }
            names.append(name)
        } while skipOp(",") && !current.isName("in") && !current.isOp("=")
        if parenthesized { try expectOp(")") }
        return names.count == 1 && !parenthesized ? .name(names[0]) : .names(names)
    }

    mutating func parseSet() throws -> Statement.Kind {
        next()
        let target = try parseAssignTarget(withNamespace: true)
        if skipOp("=") {
            let value = try parseTuple()
            try expectBlockEnd()
            return .assign(target, value)
        }
        let filters = try parseFilterChain(startInline: false)
        try expectBlockEnd()
        return .assignBlock(target, filters: filters, body: try parseFrame(closedBy: "endset"))
    }

    mutating func parseSignature() throws -> [MacroParameter] {
        try expectOp("(")
        var parameters: [MacroParameter] = []
        while !current.isOp(")") {
            if !parameters.isEmpty { try expectOp(",") }
            if current.isOp(")") { break }
            let name = try expectName()
            let defaultValue = skipOp("=") ? try parseExpression() : nil
            parameters.append(MacroParameter(name: name, defaultValue: defaultValue))
        }
        try expectOp(")")
        return parameters
    }

    mutating func parseMacro() throws -> Statement.Kind {
        next()
        let name = try expectName()
        let parameters = try parseSignature()
        try expectBlockEnd()
        let outerLoopDepth = loopDepth
        loopDepth = 0
        defer { loopDepth = outerLoopDepth }
        let body = try parseFrame(closedBy: "endmacro")
        return .macro(MacroDefinition(name: name, parameters: parameters, body: body))
    }

    mutating func parseCallBlock() throws -> Statement.Kind {
        next()
        let parameters = current.isOp("(") ? try parseSignature() : []
        let call = try parseExpression()
        guard case .call = call.kind else { throw fail("expected call", line: call.line) }
        try expectBlockEnd()
        let body = try parseFrame(closedBy: "endcall")
        return .callBlock(call: call, caller: MacroDefinition(name: "caller", parameters: parameters, body: body))
    }

    mutating func parseFilterBlock() throws -> Statement.Kind {
        next()
        let filters = try parseFilterChain(startInline: true)
        try expectBlockEnd()
        return .filterBlock(filters: filters, body: try parseFrame(closedBy: "endfilter"))
    }

    mutating func parseWith() throws -> Statement.Kind {
        next()
        var assignments: [(name: String, value: Expression)] = []
        while !isBlockEnd {
            if !assignments.isEmpty { try expectOp(",") }
            let name = try expectName()
            try expectOp("=")
            assignments.append((name, try parseExpression()))
        }
        try expectBlockEnd()
        return .scope(assignments: assignments, body: try parseFrame(closedBy: "endwith"))
    }

    /// transformers' `{% generation %}`: marks assistant text for training masks; renders its body.
    mutating func parseGeneration() throws -> Statement.Kind {
        next()
        try expectBlockEnd()
        return .scope(assignments: [], body: try parseFrame(closedBy: "endgeneration"))
    }

    var isBlockEnd: Bool {
        if case .blockEnd = current.kind { return true }
        return false
    }
}
