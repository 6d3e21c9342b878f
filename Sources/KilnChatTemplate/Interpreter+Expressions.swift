/// Expression evaluation: names, literals, lookups, calls, and the operators' Python semantics.
extension Interpreter {
    func evaluate(_ expression: Expression, in scope: Scope) throws -> Value {
        switch expression.kind {
        case .literal(let literal):
            switch literal {
            case .none: return .none
            case .bool(let flag): return .bool(flag)
            case .int(let number): return .int(number)
            case .double(let number): return .double(number)
            case .string(let text): return .string(text)
            }
        case .name(let name):
            return scope.lookup(name) ?? Undefined.variable(name)
        case .list(let items):
            return .array(try items.map { try evaluate($0, in: scope) })
        case .tuple(let items):
            return .tuple(try items.map { try evaluate($0, in: scope) })
        case .dictionary(let entries):
            var map = OrderedMap<Value>()
            for entry in entries {
                let key = try evaluate(entry.key, in: scope)
                switch key {
                case .string(let text): map[text] = try evaluate(entry.value, in: scope)
                case .int, .bool, .double, .none: map[key.str] = try evaluate(entry.value, in: scope)
                default: throw ChatTemplateError(.type, "unhashable type: '\(key.typeName)'")
                }
            }
            return .dictionary(map)
        case .attribute(let object, let name):
            return try attribute(name, of: try evaluate(object, in: scope))
        case .item(let object, let key):
            return try item(try evaluate(key, in: scope), of: try evaluate(object, in: scope))
        case .slice(let object, let start, let stop, let step):
            let value = try evaluate(object, in: scope)
            func bound(_ expression: Expression?) throws -> Int? {
                guard let expression else { return nil }
                switch try evaluate(expression, in: scope) {
                case .none: return nil
                case .int(let number): return number
                case .bool(let flag): return flag ? 1 : 0
                case let other: throw ChatTemplateError(.type, "slice indices must be integers or None, not \(other.typeName)")
                }
            }
            return try Interpreter.slice(value, start: bound(start), stop: bound(stop), step: bound(step))
        case .call(let callee, let arguments):
            return try evaluateCall(callee, arguments, in: scope, caller: nil)
        case .filter(let value, let name, let arguments):
            return try Filters.apply(name, to: try evaluate(value, in: scope), try evaluateArguments(arguments, in: scope), interpreter: self)
        case .test(let value, let name, let arguments, let negated):
            let result = try IsTests.apply(name, to: try evaluate(value, in: scope), try evaluateArguments(arguments, in: scope), interpreter: self)
            return .bool(result != negated)
        case .unary(let op, let operand):
            return try Arithmetic.unary(op, try evaluate(operand, in: scope))
        case .binary(let op, let left, let right):
            return try Arithmetic.binary(op, try evaluate(left, in: scope), try evaluate(right, in: scope))
        case .concat(let operands):
            return .string(try operands.map { try evaluate($0, in: scope).str }.joined())
        case .compare(let first, let operations):
            var left = try evaluate(first, in: scope)
            for (op, operandExpression) in operations {
                let right = try evaluate(operandExpression, in: scope)
                guard try Arithmetic.compare(op, left, right) else { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .and(let left, let right):
            let value = try evaluate(left, in: scope)
            return value.isTruthy ? try evaluate(right, in: scope) : value
        case .or(let left, let right):
            let value = try evaluate(left, in: scope)
            return value.isTruthy ? value : try evaluate(right, in: scope)
        case .not(let operand):
            return .bool(!(try evaluate(operand, in: scope).isTruthy))
        case .conditional(let condition, let then, let otherwise):
            if try evaluate(condition, in: scope).isTruthy { return try evaluate(then, in: scope) }
            guard let otherwise else {
                return Undefined.hint("the inline if-expression on line \(expression.line) evaluated to false and no else section was defined.")
            }
            return try evaluate(otherwise, in: scope)
        }
    }

    func evaluateArguments(_ arguments: CallArguments, in scope: Scope) throws -> Arguments {
        var result = Arguments()
        result.positional = try arguments.positional.map { try evaluate($0, in: scope) }
        for (name, expression) in arguments.keywords { result.keywords[name] = try evaluate(expression, in: scope) }
        return result
    }

    /// A call; `caller` is the body of an enclosing `{% call %}` block.
    func evaluateCall(_ callee: Expression, _ arguments: CallArguments, in scope: Scope, caller: Value?) throws -> Value {
        let function = try evaluate(callee, in: scope)
        var values = try evaluateArguments(arguments, in: scope)
        if let caller { values.keywords["caller"] = caller }
        switch function {
        case .callable(let callable): return try callable.body(self, values)
        case .undefined(let undefined): throw undefined.error
        default: throw ChatTemplateError(.type, "'\(function.typeName)' object is not callable")
        }
    }

    /// Jinja's `getattr(obj, name)`: a Python attribute (method) first, then the item.
    func attribute(_ name: String, of value: Value) throws -> Value {
        if case .undefined(let undefined) = value { throw undefined.error }
        if name.hasPrefix("_") { return Undefined.attribute(name, of: value) }
        if let method = Methods.bound(name, to: value) { return .callable(method) }
        switch value {
        case .dictionary(let map): return map[name] ?? Undefined.attribute(name, of: value)
        case .namespace(let namespace): return namespace.attributes[name] ?? Undefined.attribute(name, of: value)
        case .loop(let loop): return loopAttribute(name, of: loop) ?? Undefined.attribute(name, of: value)
        default: return Undefined.attribute(name, of: value)
        }
    }

    /// Jinja's `getitem(obj, key)`: the item first, then (for string keys) the attribute.
    func item(_ key: Value, of value: Value) throws -> Value {
        if case .undefined(let undefined) = value { throw undefined.error }
        switch (value, key) {
        case (.dictionary(let map), .string(let name)):
            if let found = map[name] { return found }
        case (.array(let items), _), (.tuple(let items), _):
            if let index = Interpreter.index(key, count: items.count) { return items[index] }
        case (.string(let text), _):
            let scalars = Array(text.unicodeScalars)
            if let index = Interpreter.index(key, count: scalars.count) { return .string(String(scalars[index])) }
        default:
            break
        }
        if case .string(let name) = key { return try attribute(name, of: value) }
        return Undefined.element(key, of: value)
    }

    /// The in-range position of an integer `key` (negative counts from the end).
    static func index(_ key: Value, count: Int) -> Int? {
        let raw: Int
        switch key {
        case .int(let number): raw = number
        case .bool(let flag): raw = flag ? 1 : 0
        default: return nil
        }
        let index = raw < 0 ? raw + count : raw
        return index >= 0 && index < count ? index : nil
    }

    /// Python's `sequence[start:stop:step]` on lists, tuples and strings.
    static func slice(_ value: Value, start: Int?, stop: Int?, step: Int?) throws -> Value {
        let step = step ?? 1
        guard step != 0 else { throw ChatTemplateError(.type, "slice step cannot be zero") }
        func positions(_ count: Int) -> [Int] {
            // `slice.indices`: clamp each bound into range, with defaults depending on direction.
            func clamp(_ bound: Int?, _ fallback: Int) -> Int {
                guard var bound else { return fallback }
                if bound < 0 { bound += count }
                return step > 0 ? min(max(bound, 0), count) : min(max(bound, -1), count - 1)
            }
            let first = clamp(start, step > 0 ? 0 : count - 1)
            let last = clamp(stop, step > 0 ? count : -1)
            return Array(stride(from: first, to: last, by: step))
        }
        switch value {
        case .array(let items): return .array(positions(items.count).map { items[$0] })
        case .tuple(let items): return .tuple(positions(items.count).map { items[$0] })
        case .string(let text):
            let scalars = Array(text.unicodeScalars)
            var view = String.UnicodeScalarView()
            for position in positions(scalars.count) { view.append(scalars[position]) }
            return .string(String(view))
        case .undefined(let undefined): throw undefined.error
        default: throw ChatTemplateError(.type, "'\(value.typeName)' object is not subscriptable")
        }
    }

    /// The attributes of `loop` (`index`, `first`, `cycle(...)`...).
    private func loopAttribute(_ name: String, of loop: LoopContext) -> Value? {
        let index = loop.index0
        let count = loop.items.count
        switch name {
        case "index": return .int(index + 1)
        case "index0": return .int(index)
        case "revindex": return .int(count - index)
        case "revindex0": return .int(count - index - 1)
        case "first": return .bool(index == 0)
        case "last": return .bool(index == count - 1)
        case "length": return .int(count)
        case "depth": return .int(1)
        case "depth0": return .int(0)
        case "previtem": return index > 0 ? loop.items[index - 1] : Undefined.hint("there is no previous item")
        case "nextitem": return index + 1 < count ? loop.items[index + 1] : Undefined.hint("there is no next item")
        case "cycle":
            return .callable(Callable("cycle") { _, arguments in
                guard !arguments.positional.isEmpty else { throw ChatTemplateError(.type, "no items for cycling given") }
                return arguments.positional[index % arguments.positional.count]
            })
        case "changed":
            return .callable(Callable("changed") { _, arguments in
                let values = arguments.positional
                if let last = loop.lastChanged, last.count == values.count, zip(last, values).allSatisfy({ $0.isEqual(to: $1) }) {
                    return .bool(false)
                }
                loop.lastChanged = values
                return .bool(true)
            })
        default: return nil
        }
    }
}
