import Foundation

/// Python's printf-style `text % values`, for the `format` filter and the `%` operator on
/// strings: `%s %r %d %i %f %e %g %x %%` with flags, width and precision.
enum PercentFormat {
    static func format(_ template: String, _ values: Value) throws -> String {
        var arguments: [Value]
        switch values {
        case .tuple(let items): arguments = items
        default: arguments = [values]
        }
        let characters = Array(template)
        var result = ""
        var index = 0
        var used = 0
        func fail() -> ChatTemplateError { ChatTemplateError(.type, "unsupported format string") }
        while index < characters.count {
            guard characters[index] == "%" else { result.append(characters[index]); index += 1; continue }
            index += 1
            guard index < characters.count else { throw ChatTemplateError(.type, "incomplete format") }
            if characters[index] == "%" { result.append("%"); index += 1; continue }
            var value: Value
            if characters[index] == "(" {
                guard let close = characters[index...].firstIndex(of: ")"), case .dictionary(let map) = values else { throw fail() }
                let key = String(characters[(index + 1)..<close])
                guard let found = map[key] else { throw ChatTemplateError(.type, "KeyError: '\(key)'") }
                value = found
                index = close + 1
            } else {
                guard used < arguments.count else { throw ChatTemplateError(.type, "not enough arguments for format string") }
                value = arguments[used]
                used += 1
            }
            var spec = "%"
            while index < characters.count, "-+ 0#.0123456789".contains(characters[index]) {
                spec.append(characters[index])
                index += 1
            }
            guard index < characters.count else { throw ChatTemplateError(.type, "incomplete format") }
            let conversion = characters[index]
            index += 1
            switch conversion {
            case "s", "r":
                result += try pad(conversion == "s" ? value.str : value.repr, spec: spec)
            case "d", "i", "x", "X", "o":
                guard let number = value.number else { throw ChatTemplateError(.type, "%\(conversion) format: a real number is required, not \(value.typeName)") }
                let integer: Int
                switch number {
                case .int(let whole): integer = whole
                case .double(let real):
                    guard real.isFinite, abs(real) < 9e18 else { throw fail() }
                    integer = Int(real)
                }
                result += String(format: spec + "l" + String(conversion == "i" ? "d" : conversion), integer)
            case "f", "F", "e", "E", "g", "G":
                guard let number = value.number else { throw ChatTemplateError(.type, "must be real number, not \(value.typeName)") }
                result += String(format: spec + String(conversion), number.double)
            default:
                throw ChatTemplateError(.type, "unsupported format character '\(conversion)'")
            }
        }
        // Python ignores unused values only when they came as a mapping for `%(name)s` fields.
        if used < arguments.count, !isMapping(values) {
            throw ChatTemplateError(.type, "not all arguments converted during string formatting")
        }
        return result
    }

    private static func isMapping(_ value: Value) -> Bool {
        if case .dictionary = value { return true }
        return false
    }

    /// `%-8.3s`: precision truncates, width pads (on the right with `-`), counting code points.
    private static func pad(_ text: String, spec: String) throws -> String {
        var flags = spec.dropFirst()
        let leftAlign = flags.contains("-")
        flags.removeAll { "-+ #".contains($0) }
        let parts = flags.split(separator: ".", omittingEmptySubsequences: false)
        let width = parts.first.flatMap { Int($0) } ?? 0
        var scalars = Array(text.unicodeScalars)
        if parts.count > 1, let precision = Int(parts[1]) { scalars = Array(scalars.prefix(precision)) }
        var body = String.UnicodeScalarView()
        body.append(contentsOf: scalars)
        try Arithmetic.checkRepeat(width, size: 1)
        let padding = String(repeating: " ", count: max(0, width - scalars.count))
        return leftAlign ? String(body) + padding : padding + String(body)
    }
}
