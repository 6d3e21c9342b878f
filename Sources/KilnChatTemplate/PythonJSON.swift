/// transformers' `tojson` filter: Python's `json.dumps(value, ensure_ascii=False, indent=None,
/// separators=None, sort_keys=False)`, without Jinja's HTML escaping.
enum PythonJSON {
    /// The JSON text of `value`; positional arguments follow transformers' signature
    /// `tojson(x, ensure_ascii, indent, separators, sort_keys)`.
    static func dumps(_ value: Value, _ arguments: Arguments) throws -> String {
        var options = Options()
        options.ensureASCII = arguments.bool(0, "ensure_ascii", default: false)
        switch arguments.defined(1, "indent") {
        case .int(let width)?:
            try Arithmetic.checkRepeat(width, size: 1)
            options.indent = String(repeating: " ", count: max(0, width))
        case .string(let text)?: options.indent = text
        case nil, .none?: break
        case let other?: throw ChatTemplateError(.type, "indent must be an int or a string, not \(other.typeName)")
        }
        if let separators = arguments.defined(2, "separators")?.sequenceItems, separators.count == 2 {
            options.itemSeparator = separators[0].str
            options.keySeparator = separators[1].str
        } else {
            options.itemSeparator = options.indent == nil ? ", " : ","
        }
        options.sortKeys = arguments.bool(3, "sort_keys", default: false)
        var output = ""
        try encode(value, options, level: 0, into: &output)
        return output
    }

    struct Options {
        var ensureASCII = false
        /// `nil` for one line; otherwise the text repeated per nesting level.
        var indent: String?
        var itemSeparator = ", "
        var keySeparator = ": "
        var sortKeys = false
    }

    private static func encode(_ value: Value, _ options: Options, level: Int, into output: inout String) throws {
        switch value {
        case .none: output += "null"
        case .bool(let flag): output += flag ? "true" : "false"
        case .int(let number): output += String(number)
        case .double(let number):
            if number.isNaN { output += "NaN" } else if number.isInfinite { output += number < 0 ? "-Infinity" : "Infinity" } else { output += Value.formatDouble(number) }
        case .string(let text): output += quote(text, ensureASCII: options.ensureASCII)
        case .array(let items), .tuple(let items):
            try container(items.count, open: "[", close: "]", options, level: level, into: &output) { index, output in
                try encode(items[index], options, level: level + 1, into: &output)
            }
        case .dictionary(let map):
            var keys = map.keys
            if options.sortKeys { keys.sort { Value.compareScalars($0, $1) < 0 } }
            try container(keys.count, open: "{", close: "}", options, level: level, into: &output) { index, output in
                output += quote(keys[index], ensureASCII: options.ensureASCII) + options.keySeparator
                try encode(map[keys[index]] ?? .none, options, level: level + 1, into: &output)
            }
        default:
            throw ChatTemplateError(.type, "Object of type \(value.typeName) is not JSON serializable")
        }
    }

    private static func container(
        _ count: Int, open: String, close: String, _ options: Options, level: Int, into output: inout String,
        element: (Int, inout String) throws -> Void
    ) throws {
        guard count > 0 else { output += open + close; return }
        guard level < 512 else { throw ChatTemplateError(.type, "maximum recursion depth exceeded while encoding a JSON object") }
        output += open
        let newline = options.indent.map { "\n" + String(repeating: $0, count: level + 1) }
        for index in 0..<count {
            if index > 0 { output += options.itemSeparator }
            if let newline { output += newline }
            try element(index, &output)
        }
        if let indent = options.indent { output += "\n" + String(repeating: indent, count: level) }
        output += close
    }

    /// A JSON string literal as Python writes it: `"` `\` and controls escaped, and with
    /// `ensure_ascii` every non-ASCII code point as `\uXXXX` (surrogate pairs above the BMP).
    static func quote(_ text: String, ensureASCII: Bool) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            default:
                if scalar.value < 0x20 || (ensureASCII && scalar.value > 0x7E) {
                    if scalar.value > 0xFFFF {
                        let offset = scalar.value - 0x10000
                        result += "\\u" + PythonText.hex(0xD800 + (offset >> 10), width: 4)
                        result += "\\u" + PythonText.hex(0xDC00 + (offset & 0x3FF), width: 4)
                    } else {
                        result += "\\u" + PythonText.hex(scalar.value, width: 4)
                    }
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
