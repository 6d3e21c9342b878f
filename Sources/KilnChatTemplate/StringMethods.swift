/// Python `str` algorithms that Swift's standard library spells differently or not at all.
/// Everything counts in Unicode scalars, which are Python's code points.
enum StringMethods {
    /// `str.split` / `str.rsplit`: on runs of whitespace when `separator` is `nil`, at most
    /// `limit` splits when `limit >= 0`.
    static func split(_ text: String, separator: String?, limit: Int, fromRight: Bool) throws -> [String] {
        var scalars = Array(text.unicodeScalars)
        if fromRight { scalars.reverse() }
        var parts: [[Unicode.Scalar]] = []
        if let separator {
            var needle = Array(separator.unicodeScalars)
            guard !needle.isEmpty else { throw ChatTemplateError(.type, "empty separator") }
            if fromRight { needle.reverse() }
            var current: [Unicode.Scalar] = []
            var index = 0
            while index < scalars.count {
                if limit < 0 || parts.count < limit, index + needle.count <= scalars.count,
                   Array(scalars[index..<index + needle.count]) == needle
                {
                    parts.append(current)
                    current = []
                    index += needle.count
                } else {
                    current.append(scalars[index])
                    index += 1
                }
            }
            parts.append(current)
        } else {
            var index = 0
            while index < scalars.count {
                while index < scalars.count, PythonText.isWhitespace(scalars[index]) { index += 1 }
                guard index < scalars.count else { break }
                if limit >= 0, parts.count == limit {
                    // The unsplit remainder keeps its inner and trailing whitespace.
                    parts.append(Array(scalars[index...]))
                    break
                }
                let start = index
                while index < scalars.count, !PythonText.isWhitespace(scalars[index]) { index += 1 }
                parts.append(Array(scalars[start..<index]))
            }
        }
        if fromRight { parts = parts.reversed().map { $0.reversed() } }
        return parts.map { part in
            var view = String.UnicodeScalarView()
            view.append(contentsOf: part)
            return String(view)
        }
    }

    /// `str.title()`, per code point: a cased character after an uncased one takes its title-case
    /// form (`ǆ` becomes `ǅ`, not `Ǆ`), any other is lower-cased.
    static func title(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var result = ""
        var previousCased = false
        for index in scalars.indices {
            let properties = scalars[index].properties
            result += previousCased ? PythonText.lowercase(scalars, at: index) : properties.titlecaseMapping
            previousCased = properties.isCased
        }
        return result
    }

    /// `str.capitalize()`: the first code point in title case, the rest lower-cased.
    static func capitalize(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        guard let first = scalars.first else { return text }
        return first.properties.titlecaseMapping + scalars.indices.dropFirst().map { PythonText.lowercase(scalars, at: $0) }.joined()
    }

    /// `str.replace(old, new, count)`; an empty `old` inserts `new` around every character.
    static func replace(_ text: String, _ old: String, _ new: String, count: Int) -> String {
        let scalars = Array(text.unicodeScalars)
        let needle = Array(old.unicodeScalars)
        let replacement = Array(new.unicodeScalars)
        var result: [Unicode.Scalar] = []
        var replaced = 0
        var index = 0
        func canReplace() -> Bool { count < 0 || replaced < count }
        if needle.isEmpty {
            for scalar in scalars {
                if canReplace() { result += replacement; replaced += 1 }
                result.append(scalar)
            }
            if canReplace() { result += replacement }
        } else {
            while index < scalars.count {
                if canReplace(), index + needle.count <= scalars.count, Array(scalars[index..<index + needle.count]) == needle {
                    result += replacement
                    replaced += 1
                    index += needle.count
                } else {
                    result.append(scalars[index])
                    index += 1
                }
            }
        }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: result)
        return String(view)
    }

    /// `str.find` / `str.rfind`: the scalar offset of `part`, or -1.
    static func find(_ part: String, in text: String, fromRight: Bool) -> Int {
        let haystack = Array(text.unicodeScalars)
        let needle = Array(part.unicodeScalars)
        guard needle.count <= haystack.count else { return -1 }
        let starts = Array(0...(haystack.count - needle.count))
        for start in fromRight ? starts.reversed() : starts where Array(haystack[start..<start + needle.count]) == needle {
            return start
        }
        return -1
    }

    /// `str.count`: non-overlapping occurrences of `part`.
    static func count(_ part: String, in text: String) -> Int {
        let haystack = Array(text.unicodeScalars)
        let needle = Array(part.unicodeScalars)
        if needle.isEmpty { return haystack.count + 1 }
        var total = 0
        var index = 0
        while index + needle.count <= haystack.count {
            if Array(haystack[index..<index + needle.count]) == needle {
                total += 1
                index += needle.count
            } else {
                index += 1
            }
        }
        return total
    }

    /// The `str.is...()` predicates.
    static func classify(_ text: String, _ predicate: String) -> Bool {
        let scalars = text.unicodeScalars
        guard !scalars.isEmpty else { return false }
        switch predicate {
        case "isalpha": return scalars.allSatisfy { $0.properties.isAlphabetic }
        case "isdigit", "isdecimal": return scalars.allSatisfy { $0.properties.numericType == .decimal || $0.properties.numericType == .digit }
        case "isnumeric": return scalars.allSatisfy { $0.properties.numericType != nil }
        case "isalnum": return scalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil }
        case "isspace": return scalars.allSatisfy(PythonText.isWhitespace)
        case "isupper": return text.contains { $0.isCased } && !text.contains { $0.isLowercase }
        case "islower": return text.contains { $0.isCased } && !text.contains { $0.isUppercase }
        default: return false
        }
    }

    /// `str.center` / `ljust` / `rjust` with Python's split of odd padding.
    static func pad(_ text: String, width: Int, fill: String, alignment: String) throws -> String {
        try Arithmetic.checkRepeat(width, size: fill.utf8.count)
        let length = text.unicodeScalars.count
        guard width > length else { return text }
        let margin = width - length
        let left: Int
        switch alignment {
        case "ljust": left = 0
        case "rjust": left = margin
        default: left = margin / 2 + (margin & width & 1)
        }
        return String(repeating: fill, count: left) + text + String(repeating: fill, count: margin - left)
    }

    /// `str.format` with `{}`, `{0}`, `{name}`, `{{`/`}}` and `!r`/`!s`; format specs are unsupported.
    static func format(_ template: String, _ arguments: Arguments) throws -> String {
        var result = ""
        var automatic = 0
        let characters = Array(template)
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if character == "}" {
                guard index + 1 < characters.count, characters[index + 1] == "}" else {
                    throw ChatTemplateError(.type, "Single '}' encountered in format string")
                }
                result.append("}")
                index += 2
                continue
            }
            guard character == "{" else { result.append(character); index += 1; continue }
            if index + 1 < characters.count, characters[index + 1] == "{" {
                result.append("{")
                index += 2
                continue
            }
            guard let close = characters[index...].firstIndex(of: "}") else {
                throw ChatTemplateError(.type, "Single '{' encountered in format string")
            }
            var field = String(characters[(index + 1)..<close])
            index = close + 1
            var conversion: Character?
            if let bang = field.firstIndex(of: "!") {
                conversion = field[field.index(after: bang)...].first
                field = String(field[..<bang])
            }
            guard !field.contains(":") else { throw ChatTemplateError(.unsupported, "format specifications are not supported") }
            let value: Value
            if field.isEmpty {
                guard automatic < arguments.positional.count else { throw ChatTemplateError(.type, "Replacement index \(automatic) out of range for positional args tuple") }
                value = arguments.positional[automatic]
                automatic += 1
            } else if let position = Int(field) {
                guard position < arguments.positional.count else { throw ChatTemplateError(.type, "Replacement index \(position) out of range for positional args tuple") }
                value = arguments.positional[position]
            } else {
                guard let named = arguments.keywords[field] else { throw ChatTemplateError(.type, "KeyError: '\(field)'") }
                value = named
            }
            result += conversion == "r" ? value.repr : value.str
        }
        return result
    }
}
