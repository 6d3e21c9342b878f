import Foundation

/// Jinja's builtin filters (`value | name(arguments)`), with transformers' `tojson`.
/// Collection filters live in `Filters+Collections.swift`.
enum Filters {
    /// Every filter name the parser accepts; others fail at compile time, as in Jinja.
    static let names: Set<String> = [
        "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape",
        "first", "float", "forceescape", "format", "indent", "int", "items", "join", "last", "length", "list",
        "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select",
        "selectattr", "sort", "string", "sum", "title", "tojson", "trim", "truncate", "unique", "upper", "wordcount",
    ]

    static func apply(_ name: String, to value: Value, _ arguments: Arguments, interpreter: Interpreter) throws -> Value {
        switch name {
        case "default", "d":
            let fallback = arguments.value(0, "default_value") ?? .string("")
            if value.isUndefined || (arguments.bool(1, "boolean", default: false) && !value.isTruthy) { return fallback }
            return value
        case "length", "count":
            return .int(try length(of: value))
        case "string":
            return .string(value.str)
        case "safe":
            return .string(value.str)
        case "escape", "e", "forceescape":
            return .string(htmlEscape(value.str))
        case "trim":
            return .string(PythonText.strip(value.str, arguments.string(0, "chars", default: nil)))
        case "upper":
            return .string(PythonText.uppercased(value.str))
        case "lower":
            return .string(PythonText.lowercased(value.str))
        case "capitalize":
            return .string(StringMethods.capitalize(value.str))
        case "title":
            return .string(title(value.str))
        case "replace":
            let old = arguments.string(0, "old", default: "") ?? ""
            let new = arguments.string(1, "new", default: "") ?? ""
            let count = try arguments.int(2, "count", default: -1)
            return .string(StringMethods.replace(value.str, old, new, count: count))
        case "center":
            return .string(try StringMethods.pad(value.str, width: try arguments.int(0, "width", default: 80), fill: " ", alignment: "center"))
        case "indent":
            return .string(try indent(value.str, arguments))
        case "truncate":
            return .string(try truncate(value.str, arguments))
        case "wordcount":
            return .int(wordCount(value.str))
        case "format":
            return .string(try PercentFormat.format(value.str, arguments.positional.count == 1 ? arguments.positional[0] : .tuple(arguments.positional)))
        case "int":
            // `int()` and `float()` of Undefined raise its error rather than fall back.
            return try toInt(try value.requireDefined(), arguments)
        case "float":
            return toFloat(try value.requireDefined()) ?? arguments.value(0, "default") ?? .double(0)
        case "abs":
            switch try value.requireDefined() {
            case .int(let number) where number != Int.min: return .int(abs(number))
            case .bool(let flag): return .int(flag ? 1 : 0)
            case .double(let number): return .double(abs(number))
            default: throw ChatTemplateError(.type, "bad operand type for abs(): '\(value.typeName)'")
            }
        case "round":
            return try round(value, arguments)
        case "tojson":
            return .string(try PythonJSON.dumps(value, arguments))
        case "attr":
            return try interpreter.attribute(arguments.string(0, "name", default: "") ?? "", of: value)
        default:
            return try applyCollectionFilter(name, to: value, arguments, interpreter: interpreter)
        }
    }

    /// Python's `len()`; undefined has length 0.
    static func length(of value: Value) throws -> Int {
        switch value {
        case .undefined: return 0
        case .string(let text): return text.unicodeScalars.count
        case .array(let items), .tuple(let items): return items.count
        case .dictionary(let map): return map.count
        case .loop(let loop): return loop.items.count
        default: throw ChatTemplateError(.type, "object of type '\(value.typeName)' has no len()")
        }
    }

    /// Markup's escaping of `& < > " '`.
    static func htmlEscape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&#34;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }

    /// Jinja's `title` filter: capitalises each run split at `-`, whitespace, `(`, `{`, `[`, `<`.
    private static func title(_ text: String) -> String {
        func isBoundary(_ character: Character) -> Bool {
            "-({[<".contains(character) || character.unicodeScalars.allSatisfy(PythonText.isWhitespace)
        }
        var result = ""
        var run = ""
        var runIsBoundary: Bool?
        func flush() {
            if let first = run.first { result += PythonText.uppercased(String(first)) + PythonText.lowercased(String(run.dropFirst())) }
            run = ""
        }
        for character in text {
            let boundary = isBoundary(character)
            if boundary != runIsBoundary { flush(); runIsBoundary = boundary }
            run.append(character)
        }
        flush()
        return result
    }

    private static func indent(_ text: String, _ arguments: Arguments) throws -> String {
        let indentation: String
        switch arguments.defined(0, "width") {
        case .string(let prefix)?: indentation = prefix
        default:
            let width = try arguments.int(0, "width", default: 4)
            try Arithmetic.checkRepeat(width, size: 1)
            indentation = String(repeating: " ", count: max(0, width))
        }
        let first = arguments.bool(1, "first", default: false)
        let blank = arguments.bool(2, "blank", default: false)
        var lines = PythonText.splitLines(text + "\n")
        var result: String
        if blank {
            result = lines.joined(separator: "\n" + indentation)
        } else {
            result = lines.isEmpty ? "" : lines.removeFirst()
            if !lines.isEmpty {
                result += "\n" + lines.map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n")
            }
        }
        return first ? indentation + result : result
    }

    private static func truncate(_ text: String, _ arguments: Arguments) throws -> String {
        let length = try arguments.int(0, "length", default: 255)
        let killWords = arguments.bool(1, "killwords", default: false)
        let end = arguments.string(2, "end", default: "...") ?? "..."
        let leeway = try arguments.int(3, "leeway", default: 5)
        let scalars = Array(text.unicodeScalars)
        let endLength = end.unicodeScalars.count
        guard length >= endLength else { throw ChatTemplateError(.type, "expected length >= \(endLength), got \(length)") }
        if scalars.count <= length + leeway { return text }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[0..<(length - endLength)])
        let head = String(view)
        if killWords { return head + end }
        return (try StringMethods.split(head, separator: " ", limit: 1, fromRight: true).first ?? head) + end
    }

    /// The number of `\w+` runs.
    private static func wordCount(_ text: String) -> Int {
        var count = 0
        var inWord = false
        for scalar in text.unicodeScalars {
            let isWord = scalar == "_" || scalar.properties.isAlphabetic || scalar.properties.numericType != nil
            if isWord && !inWord { count += 1 }
            inWord = isWord
        }
        return count
    }

    /// Jinja's `int`: `int(value, base)`, else `int(float(value))`, else the default.
    private static func toInt(_ value: Value, _ arguments: Arguments) throws -> Value {
        let fallback = arguments.value(0, "default") ?? .int(0)
        let base = try arguments.int(1, "base", default: 10)
        switch value {
        case .int: return value
        case .bool(let flag): return .int(flag ? 1 : 0)
        case .double(let number):
            guard number.isFinite else { return number.isNaN ? fallback : value }
            return Double(Int.min) <= number && number < Double(Int.max) ? .int(Int(number)) : fallback
        case .string(let text):
            if let parsed = parseInteger(text, base: base) { return .int(parsed) }
            if case .double(let number)? = toFloat(value), number.isFinite, Double(Int.min) <= number, number < Double(Int.max) {
                return .int(Int(number))
            }
            return fallback
        default:
            return fallback
        }
    }

    /// Python's `int(text, base)`: optional sign, `_` between digits, `0x`/`0o`/`0b` prefixes.
    static func parseInteger(_ text: String, base: Int) -> Int? {
        var body = PythonText.strip(text).lowercased()
        var negative = false
        if body.hasPrefix("-") || body.hasPrefix("+") { negative = body.hasPrefix("-"); body.removeFirst() }
        var radix = base
        for (prefix, prefixRadix) in [("0x", 16), ("0o", 8), ("0b", 2)] where body.hasPrefix(prefix) && (base == 0 || base == prefixRadix) {
            radix = prefixRadix
            body.removeFirst(2)
            if body.hasPrefix("_") { body.removeFirst() }
        }
        if radix == 0 { radix = 10 }
        guard (2...36).contains(radix), !body.isEmpty, !body.hasPrefix("_"), !body.hasSuffix("_"), !body.contains("__") else { return nil }
        guard let magnitude = Int(body.replacingOccurrences(of: "_", with: ""), radix: radix) else { return nil }
        return negative ? -magnitude : magnitude
    }

    /// Python's `float(value)`, or `nil` where it raises.
    static func toFloat(_ value: Value) -> Value? {
        switch value {
        case .int(let number): return .double(Double(number))
        case .bool(let flag): return .double(flag ? 1 : 0)
        case .double: return value
        case .string(let text):
            let body = PythonText.strip(text).lowercased().replacingOccurrences(of: "_", with: "")
            switch body {
            case "inf", "+inf", "infinity", "+infinity": return .double(.infinity)
            case "-inf", "-infinity": return .double(-.infinity)
            case "nan", "+nan", "-nan": return .double(.nan)
            default:
                guard !body.isEmpty, body.allSatisfy({ "0123456789.e+-".contains($0) }), let number = Double(body) else { return nil }
                return .double(number)
            }
        default:
            return nil
        }
    }

    /// Jinja's `round`: Python's banker's `round` for `common`, else `floor`/`ceil`; always a float
    /// for float input.
    private static func round(_ value: Value, _ arguments: Arguments) throws -> Value {
        let precision = try arguments.int(0, "precision", default: 0)
        let method = arguments.string(1, "method", default: "common") ?? "common"
        guard let number = value.number else {
            throw ChatTemplateError(.type, "type \(value.typeName) doesn't define __round__ method")
        }
        if case .int(let integer) = number, method == "common", precision >= 0 { return .int(integer) }
        let scale = pow(10.0, Double(precision))
        switch method {
        case "common":
            let scaled = number.double * scale
            return .double(scaled.rounded(.toNearestOrEven) / scale)
        case "floor": return .double((number.double * scale).rounded(.down) / scale)
        case "ceil": return .double((number.double * scale).rounded(.up) / scale)
        default: throw ChatTemplateError(.type, "method must be common, ceil or floor")
        }
    }
}
