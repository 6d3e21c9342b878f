/// Jinja's builtin tests (`value is name arguments`).
enum IsTests {
    /// Every test name the parser accepts; others fail at compile time, as in Jinja.
    static let names: Set<String> = [
        "defined", "undefined", "none", "string", "mapping", "iterable", "number", "integer", "float",
        "sequence", "boolean", "false", "true", "odd", "even", "divisibleby", "callable", "equalto", "eq", "==",
        "ne", "!=", "lt", "<", "le", "<=", "gt", ">", "ge", ">=", "lessthan", "greaterthan", "in", "lower", "upper",
        "sameas", "escaped", "filter", "test",
    ]

    static func apply(_ name: String, to value: Value, _ arguments: Arguments, interpreter: Interpreter) throws -> Bool {
        let other = arguments.value(0, "other") ?? Undefined.variable("other")
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": if case .none = value { return true }; return false
        case "string": if case .string = value { return true }; return false
        case "mapping": if case .dictionary = value { return true }; return false
        case "boolean": if case .bool = value { return true }; return false
        case "false": if case .bool(false) = value { return true }; return false
        case "true": if case .bool(true) = value { return true }; return false
        case "integer": if case .int = value { return true }; return false
        case "float": if case .double = value { return true }; return false
        case "number": return value.number != nil
        case "callable": if case .callable = value { return true }; return false
        case "escaped": return false
        case "iterable":
            switch value {
            case .undefined, .string, .array, .tuple, .dictionary, .loop: return true
            default: return false
            }
        case "sequence":
            // Jinja asks for `len()` and `__getitem__`, which dicts and Undefined both have.
            switch value {
            case .undefined, .string, .array, .tuple, .dictionary: return true
            default: return false
            }
        case "odd", "even":
            let remainder = try Arithmetic.binary(.modulo, value, .int(2))
            return remainder.isEqual(to: .int(1)) == (name == "odd")
        case "divisibleby":
            return try Arithmetic.binary(.modulo, value, arguments.value(0, "num") ?? .none).isEqual(to: .int(0))
        case "equalto", "eq", "==": return value.isEqual(to: other)
        case "ne", "!=": return !value.isEqual(to: other)
        case "lt", "<", "lessthan": return try value.compare(to: other, operator: "<") < 0
        case "le", "<=": return try value.compare(to: other, operator: "<=") <= 0
        case "gt", ">", "greaterthan": return try value.compare(to: other, operator: ">") > 0
        case "ge", ">=": return try value.compare(to: other, operator: ">=") >= 0
        case "in": return try (arguments.value(0, "seq") ?? .none).contains(value)
        case "lower":
            let text = value.str
            return text.contains { $0.isCased } && !text.contains { $0.isUppercase }
        case "upper":
            let text = value.str
            return text.contains { $0.isCased } && !text.contains { $0.isLowercase }
        case "sameas":
            switch (value, other) {
            case (.none, .none): return true
            case (.bool(let a), .bool(let b)): return a == b
            case (.int(let a), .int(let b)): return a == b
            case (.string(let a), .string(let b)): return a == b
            case (.namespace(let a), .namespace(let b)): return a === b
            case (.callable(let a), .callable(let b)): return a === b
            default: return false
            }
        case "filter": return Filters.names.contains(value.str)
        case "test": return names.contains(value.str)
        default: throw ChatTemplateError(.unsupported, "the test '\(name)' is not supported")
        }
    }
}
