/// Python's `str()`, `repr()`, `==` and ordering for template values, which decide what
/// `{{ value }}` prints and how comparisons, `in`, `sort` and `unique` behave.
extension Value {
    /// Python's `str()`: what `{{ value }}` and `~` produce. Undefined prints as nothing.
    var str: String {
        switch self {
        case .undefined: return ""
        case .string(let text): return text
        default: return repr
        }
    }

    /// Python's `repr()`, used for the elements of printed lists and dicts.
    var repr: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "None"
        case .bool(let flag): return flag ? "True" : "False"
        case .int(let number): return String(number)
        case .double(let number): return Value.formatDouble(number)
        case .string(let text): return PythonText.repr(text)
        case .array(let items): return "[" + items.map(\.repr).joined(separator: ", ") + "]"
        case .tuple(let items):
            if items.count == 1 { return "(" + items[0].repr + ",)" }
            return "(" + items.map(\.repr).joined(separator: ", ") + ")"
        case .dictionary(let map):
            return "{" + map.entries.map { PythonText.repr($0.key) + ": " + $0.value.repr }.joined(separator: ", ") + "}"
        case .namespace(let namespace):
            return "<Namespace " + Value.dictionary(namespace.attributes).repr + ">"
        case .callable(let callable): return "<function \(callable.name)>"
        case .loop(let loop): return "<LoopContext \(loop.index0 + 1)/\(loop.items.count)>"
        }
    }

    /// Python's `float.__repr__`: the shortest text that reads back as the same double, with an
    /// exponent below 1e-4 and from 1e16, and a `.0` on whole numbers.
    static func formatDouble(_ number: Double) -> String {
        if number.isNaN { return "nan" }
        if number.isInfinite { return number < 0 ? "-inf" : "inf" }
        // Swift's `description` is also shortest-round-trip with the same exponent thresholds;
        // only the exponent spelling differs ("1e-05" in both, "1e+16" in both, checked by tests).
        var text = number.description
        if let e = text.firstIndex(of: "e") {
            var mantissa = String(text[..<e])
            var exponent = String(text[text.index(after: e)...])
            if mantissa.hasSuffix(".0") { mantissa.removeLast(2) }
            let sign = exponent.hasPrefix("-") ? "-" : "+"
            if exponent.hasPrefix("-") || exponent.hasPrefix("+") { exponent.removeFirst() }
            if exponent.count < 2 { exponent = "0" + exponent }
            text = mantissa + "e" + sign + exponent
        } else if !text.contains(".") {
            text += ".0"
        }
        return text
    }

    /// Python's `==`: numbers compare by value across int, float and bool; a list never equals
    /// a tuple; dicts compare as unordered maps; two undefined values are equal.
    func isEqual(to other: Value) -> Bool {
        switch (self, other) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.array(let a), .array(let b)), (.tuple(let a), .tuple(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.isEqual(to: $1) }
        case (.dictionary(let a), .dictionary(let b)):
            return a.count == b.count && a.entries.allSatisfy { entry in b[entry.key].map { entry.value.isEqual(to: $0) } ?? false }
        case (.namespace(let a), .namespace(let b)): return a === b
        case (.callable(let a), .callable(let b)): return a === b
        case (.loop(let a), .loop(let b)): return a === b
        default:
            guard let a = number, let b = other.number else { return false }
            switch (a, b) {
            case (.int(let x), .int(let y)): return x == y
            default: return a.double == b.double
            }
        }
    }

    /// Python's `<` ordering: numbers, strings by code point, and sequences element-wise.
    func compare(to other: Value, operator symbol: String) throws -> Int {
        switch (self, other) {
        case (.string(let a), .string(let b)):
            return Value.compareScalars(a, b)
        case (.array(let a), .array(let b)), (.tuple(let a), .tuple(let b)):
            for (x, y) in zip(a, b) where !x.isEqual(to: y) { return try x.compare(to: y, operator: symbol) }
            return a.count < b.count ? -1 : (a.count > b.count ? 1 : 0)
        default:
            if case .undefined(let undefined) = self { throw undefined.error }
            if case .undefined(let undefined) = other { throw undefined.error }
            guard let a = number, let b = other.number else {
                throw ChatTemplateError(.type, "'\(symbol)' not supported between instances of '\(typeName)' and '\(other.typeName)'")
            }
            if case .int(let x) = a, case .int(let y) = b { return x < y ? -1 : (x > y ? 1 : 0) }
            let (x, y) = (a.double, b.double)
            return x < y ? -1 : (x > y ? 1 : 0)
        }
    }

    /// Code-point order, which is Python's string order (Swift's `<` uses canonical ordering).
    static func compareScalars(_ a: String, _ b: String) -> Int {
        var left = a.unicodeScalars.makeIterator()
        var right = b.unicodeScalars.makeIterator()
        while true {
            switch (left.next(), right.next()) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case (let x?, let y?): if x != y { return x.value < y.value ? -1 : 1 }
            }
        }
    }

    /// Python's `needle in self`: substring, list element, or dict key.
    func contains(_ needle: Value) throws -> Bool {
        switch self {
        case .string(let text):
            guard case .string(let part) = needle else {
                if case .undefined(let undefined) = needle { throw undefined.error }
                throw ChatTemplateError(.type, "'in <string>' requires string as left operand, not \(needle.typeName)")
            }
            return Value.scalarRange(of: part, in: text) != nil
        case .array(let items), .tuple(let items):
            return items.contains { $0.isEqual(to: needle) }
        case .dictionary(let map):
            guard case .string(let key) = needle else { return false }
            return map[key] != nil
        case .namespace(let namespace):
            guard case .string(let key) = needle else { return false }
            return namespace.attributes[key] != nil
        case .undefined:
            return false
        default:
            throw ChatTemplateError(.type, "argument of type '\(typeName)' is not iterable")
        }
    }

    /// The scalar offset of the first occurrence of `part` in `text`.
    static func scalarRange(of part: String, in text: String, from start: Int = 0) -> Int? {
        let haystack = Array(text.unicodeScalars)
        let needle = Array(part.unicodeScalars)
        guard needle.count <= haystack.count else { return nil }
        if needle.isEmpty { return min(start, haystack.count) }
        var index = start
        while index + needle.count <= haystack.count {
            if haystack[index] == needle[0], Array(haystack[index..<index + needle.count]) == needle { return index }
            index += 1
        }
        return nil
    }
}
