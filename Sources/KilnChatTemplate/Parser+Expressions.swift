/// Expression parsing, one method per precedence level of `jinja2.parser`, loosest first:
/// conditional, `or`, `and`, `not`, comparisons, `+ -`, `~`, `* / // %`, `**`, unary, primary
/// with postfix (`.a`, `[i]`, `(...)`), then filters and tests.
extension Parser {
    /// An expression, or a tuple when commas separate several (`{{ a, b }}`, `set a, b = 1, 2`).
    mutating func parseTuple(withConditional: Bool = true, extraEndNames: [String] = [], explicitParentheses: Bool = false) throws -> Expression {
        let line = current.line
        var items: [Expression] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(",") }
            if isTupleEnd(extraEndNames) { break }
            items.append(withConditional ? try parseExpression() : try parseOr())
            guard current.isOp(",") else { break }
            isTuple = true
        }
        if !isTuple {
            if let only = items.first { return only }
            if !explicitParentheses { throw fail("Expected an expression, got '\(current.description)'") }
        }
        return Expression(kind: .tuple(items), line: line)
    }

    private func isTupleEnd(_ extraEndNames: [String]) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd, .end: return true
        case .op(")"): return true
        case .name(let name): return extraEndNames.contains(name)
        default: return false
        }
    }

    /// A full expression, including `a if b else c`.
    mutating func parseExpression() throws -> Expression {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else { throw fail("expression nested too deeply") }
        var expression = try parseOr()
        while current.isName("if") {
            let line = current.line
            next()
            let condition = try parseOr()
            let otherwise = skipName("else") ? try parseExpression() : nil
            expression = Expression(kind: .conditional(condition: condition, then: expression, otherwise: otherwise), line: line)
        }
        return expression
    }

    mutating func parseOr() throws -> Expression {
        var left = try parseAnd()
        while current.isName("or") {
            let line = next().line
            left = Expression(kind: .or(left, try parseAnd()), line: line)
        }
        return left
    }

    mutating func parseAnd() throws -> Expression {
        var left = try parseNot()
        while current.isName("and") {
            let line = next().line
            left = Expression(kind: .and(left, try parseNot()), line: line)
        }
        return left
    }

    mutating func parseNot() throws -> Expression {
        if current.isName("not") {
            let line = next().line
            return Expression(kind: .not(try parseNot()), line: line)
        }
        return try parseCompare()
    }

    mutating func parseCompare() throws -> Expression {
        let line = current.line
        let first = try parseMath1()
        var operations: [(op: CompareOperator, operand: Expression)] = []
        while true {
            if case .op(let symbol) = current.kind, let op = CompareOperator(rawValue: symbol), symbol != "in" {
                next()
                operations.append((op, try parseMath1()))
            } else if skipName("in") {
                operations.append((.contains, try parseMath1()))
            } else if current.isName("not"), peek().isName("in") {
                next()
                next()
                operations.append((.notContains, try parseMath1()))
            } else {
                break
            }
        }
        return operations.isEmpty ? first : Expression(kind: .compare(first, operations), line: line)
    }

    /// `+` and `-`; note Jinja binds `~` tighter than these.
    mutating func parseMath1() throws -> Expression {
        var left = try parseConcat()
        while case .op(let symbol) = current.kind, symbol == "+" || symbol == "-" {
            let line = next().line
            let right = try parseConcat()
            left = Expression(kind: .binary(symbol == "+" ? .add : .subtract, left, right), line: line)
        }
        return left
    }

    mutating func parseConcat() throws -> Expression {
        let line = current.line
        var operands = [try parseMath2()]
        while skipOp("~") { operands.append(try parseMath2()) }
        return operands.count == 1 ? operands[0] : Expression(kind: .concat(operands), line: line)
    }

    mutating func parseMath2() throws -> Expression {
        var left = try parsePower()
        while case .op(let symbol) = current.kind, ["*", "/", "//", "%"].contains(symbol), let op = BinaryOperator(rawValue: symbol) {
            let line = next().line
            left = Expression(kind: .binary(op, left, try parsePower()), line: line)
        }
        return left
    }

    /// `**`, left-associative in Jinja (`2 ** 3 ** 2` is 64).
    mutating func parsePower() throws -> Expression {
        var left = try parseUnary()
        while current.isOp("**") {
            let line = next().line
            left = Expression(kind: .binary(.power, left, try parseUnary()), line: line)
        }
        return left
    }

    /// A sign, a primary with its postfixes, then (unless directly under a sign) filters and tests.
    mutating func parseUnary(withFilter: Bool = true) throws -> Expression {
        let line = current.line
        var expression: Expression
        if current.isOp("-") || current.isOp("+") {
            let op: UnaryOperator = current.isOp("-") ? .negate : .plus
            next()
            depth += 1
            defer { depth -= 1 }
            guard depth <= Self.maximumDepth else { throw fail("expression nested too deeply") }
            expression = Expression(kind: .unary(op, try parseUnary(withFilter: false)), line: line)
        } else {
            expression = try parsePrimary()
        }
        expression = try parsePostfix(expression)
        if withFilter { expression = try parseFilterExpression(expression) }
        return expression
    }

    mutating func parsePrimary() throws -> Expression {
        let token = current
        switch token.kind {
        case .name(let name):
            next()
            switch name {
            case "true", "True": return Expression(kind: .literal(.bool(true)), line: token.line)
            case "false", "False": return Expression(kind: .literal(.bool(false)), line: token.line)
            case "none", "None": return Expression(kind: .literal(.none), line: token.line)
            default: return Expression(kind: .name(name), line: token.line)
            }
        case .string(let first):
            next()
            var text = first
            while case .string(let more) = current.kind {
                text += more
                next()
            }
            return Expression(kind: .literal(.string(text)), line: token.line)
        case .integer(let value):
            next()
            return Expression(kind: .literal(.int(value)), line: token.line)
        case .float(let value):
            next()
            return Expression(kind: .literal(.double(value)), line: token.line)
        case .op("("):
            next()
            depth += 1
            defer { depth -= 1 }
            guard depth <= Self.maximumDepth else { throw fail("expression nested too deeply") }
            let inner = try parseTuple(explicitParentheses: true)
            try expectOp(")")
            return inner
        case .op("["):
            next()
            var items: [Expression] = []
            while !current.isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if current.isOp("]") { break }
                items.append(try parseExpression())
            }
            try expectOp("]")
            return Expression(kind: .list(items), line: token.line)
        case .op("{"):
            next()
            var entries: [(key: Expression, value: Expression)] = []
            while !current.isOp("}") {
                if !entries.isEmpty { try expectOp(",") }
                if current.isOp("}") { break }
                let key = try parseExpression()
                try expectOp(":")
                entries.append((key, try parseExpression()))
            }
            try expectOp("}")
            return Expression(kind: .dictionary(entries), line: token.line)
        default:
            throw unexpected(token)
        }
    }

    mutating func parsePostfix(_ start: Expression) throws -> Expression {
        var expression = start
        while true {
            let line = current.line
            if skipOp(".") {
                switch current.kind {
                case .name(let name):
                    next()
                    expression = Expression(kind: .attribute(expression, name), line: line)
                case .integer(let index):
                    next()
                    expression = Expression(kind: .item(expression, Expression(kind: .literal(.int(index)), line: line)), line: line)
                default:
                    throw fail("expected name or number")
                }
            } else if skipOp("[") {
                expression = try parseSubscript(of: expression, line: line)
            } else if current.isOp("(") {
                expression = Expression(kind: .call(expression, try parseCallArguments()), line: line)
            } else {
                return expression
            }
        }
    }

    /// The inside of `[...]`: an index or a slice `start:stop:step` with any part omitted.
    private mutating func parseSubscript(of object: Expression, line: Int) throws -> Expression {
        var bounds: [Expression?] = []
        var sawColon = false
        if !current.isOp(":") { bounds.append(try parseExpression()) } else { bounds.append(nil) }
        while bounds.count < 3, skipOp(":") {
            sawColon = true
            bounds.append(current.isOp(":") || current.isOp("]") ? nil : try parseExpression())
        }
        if current.isOp(",") { throw fail("tuple subscripts are not supported") }
        try expectOp("]")
        guard sawColon else {
            guard let index = bounds[0] else { throw fail("expected an index") }
            return Expression(kind: .item(object, index), line: line)
        }
        while bounds.count < 3 { bounds.append(nil) }
        return Expression(kind: .slice(object, start: bounds[0], stop: bounds[1], step: bounds[2]), line: line)
    }

    mutating func parseCallArguments() throws -> CallArguments {
        let line = current.line
        try expectOp("(")
        var arguments = CallArguments()
        var needsComma = false
        while !current.isOp(")") {
            if needsComma {
                try expectOp(",")
                if current.isOp(")") { break }
            }
            if current.isOp("*") || current.isOp("**") {
                throw fail("*args and **kwargs in calls are not supported")
            }
            if case .name(let name) = current.kind, peek().isOp("=") {
                next()
                next()
                arguments.keywords.append((name, try parseExpression()))
            } else {
                guard arguments.keywords.isEmpty else { throw fail("invalid syntax for function call expression", line: line) }
                arguments.positional.append(try parseExpression())
            }
            needsComma = true
        }
        try expectOp(")")
        return arguments
    }

    /// Jinja's `parse_filter_expr`: any run of `| filter`, `is test` and further calls.
    mutating func parseFilterExpression(_ start: Expression) throws -> Expression {
        var expression = start
        while true {
            if current.isOp("|") {
                expression = try parseFilters(expression)
            } else if current.isName("is") {
                expression = try parseTest(expression)
            } else if current.isOp("(") {
                expression = Expression(kind: .call(expression, try parseCallArguments()), line: current.line)
            } else {
                return expression
            }
        }
    }

    /// `| name(args)` applied to `value`, repeatedly.
    private mutating func parseFilters(_ value: Expression) throws -> Expression {
        var expression = value
        for (name, arguments, line) in try parseFilterList(startInline: false) {
            expression = Expression(kind: .filter(expression, name: name, arguments), line: line)
        }
        return expression
    }

    /// The filters of `{% filter %}` and `{% set x | f %}` blocks.
    mutating func parseFilterChain(startInline: Bool) throws -> [(name: String, arguments: CallArguments)] {
        try parseFilterList(startInline: startInline).map { ($0.name, $0.arguments) }
    }

    private mutating func parseFilterList(startInline: Bool) throws -> [(name: String, arguments: CallArguments, line: Int)] {
        var filters: [(name: String, arguments: CallArguments, line: Int)] = []
        var inline = startInline
        while current.isOp("|") || inline {
            if !inline { next() }
            inline = false
            let line = current.line
            var name = try expectName()
            while skipOp(".") { name += "." + (try expectName()) }
            guard Filters.names.contains(name) else { throw fail("No filter named '\(name)'.", line: line) }
            let arguments = current.isOp("(") ? try parseCallArguments() : CallArguments()
            filters.append((name, arguments, line))
        }
        return filters
    }

    /// `is [not] name`, with arguments in parentheses or one bare argument (`is divisibleby 3`).
    private mutating func parseTest(_ value: Expression) throws -> Expression {
        let line = next().line
        let negated = skipName("not")
        var name = try expectName()
        while skipOp(".") { name += "." + (try expectName()) }
        guard IsTests.names.contains(name) else { throw fail("No test named '\(name)'.", line: line) }
        var arguments = CallArguments()
        if current.isOp("(") {
            arguments = try parseCallArguments()
        } else if startsBareTestArgument {
            if current.isName("is") { throw fail("You cannot chain multiple tests with is") }
            arguments.positional = [try parsePostfix(try parsePrimary())]
        }
        return Expression(kind: .test(value, name: name, arguments, negated: negated), line: line)
    }

    private var startsBareTestArgument: Bool {
        switch current.kind {
        case .name(let name): return !["else", "or", "and"].contains(name)
        case .string, .integer, .float, .op("["), .op("{"): return true
        default: return false
        }
    }
}
