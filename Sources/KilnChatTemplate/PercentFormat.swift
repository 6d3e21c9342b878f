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
                let text = conversion == "s" ? value.str : value.repr
                result += String(format: spec + "@", text as NSString)
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
        if used < arguments.count, case .tuple = values {
            throw ChatTemplateError(.type, "not all arguments converted during string formatting")
        }
        return result
    }
}
