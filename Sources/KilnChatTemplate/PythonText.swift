/// Python's notions of whitespace, line breaks and printable characters, which Jinja inherits.
enum PythonText {
    /// Python's `str.isspace()` and regex `\s`: Unicode `White_Space` plus the separators U+001C-U+001F.
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 0x80 {
            return scalar == " " || (0x09...0x0D).contains(scalar.value) || (0x1C...0x1F).contains(scalar.value)
        }
        return scalar.properties.isWhitespace
    }

    /// The line boundaries of Python's `str.splitlines()` (besides `\r\n`, which counts as one).
    static func isLineBreak(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029: return true
        default: return false
        }
    }

    /// Python's `str.isprintable()` for one character: false for controls, format characters,
    /// surrogates, private use, unassigned code points and separators other than the space.
    static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned,
             .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }

    /// `text` without leading and trailing characters in `characters` (whitespace when `nil`).
    static func strip(_ text: String, _ characters: String? = nil, leading: Bool = true, trailing: Bool = true) -> String {
        let set = characters.map { Set($0.unicodeScalars) }
        let drop: (Unicode.Scalar) -> Bool = { scalar in set.map { $0.contains(scalar) } ?? isWhitespace(scalar) }
        let scalars = text.unicodeScalars
        var start = scalars.startIndex
        var end = scalars.endIndex
        if leading { while start < end, drop(scalars[start]) { start = scalars.index(after: start) } }
        if trailing {
            while end > start {
                let before = scalars.index(before: end)
                guard drop(scalars[before]) else { break }
                end = before
            }
        }
        return String(scalars[start..<end])
    }

    /// Python's `str.splitlines()`: lines without their terminators; no empty last line.
    static func splitLines(_ text: String) -> [String] {
        var lines: [String] = []
        var current = String.UnicodeScalarView()
        var previousWasCR = false
        for scalar in text.unicodeScalars {
            if scalar == "\n", previousWasCR {
                previousWasCR = false
                continue
            }
            previousWasCR = scalar == "\r"
            if isLineBreak(scalar) {
                lines.append(String(current))
                current = String.UnicodeScalarView()
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { lines.append(String(current)) }
        return lines
    }

    /// Python's `repr()` of a string: single quotes unless the text has `'` and no `"`.
    static func repr(_ text: String) -> String {
        let quote: Unicode.Scalar = text.contains("'") && !text.contains("\"") ? "\"" : "'"
        var result = String.UnicodeScalarView()
        result.append(quote)
        for scalar in text.unicodeScalars {
            switch scalar {
            case quote, "\\": result.append("\\"); result.append(scalar)
            case "\t": result.append(contentsOf: "\\t".unicodeScalars)
            case "\n": result.append(contentsOf: "\\n".unicodeScalars)
            case "\r": result.append(contentsOf: "\\r".unicodeScalars)
            default:
                if isPrintable(scalar) {
                    result.append(scalar)
                } else if scalar.value < 0x100 {
                    result.append(contentsOf: "\\x\(hex(scalar.value, width: 2))".unicodeScalars)
                } else if scalar.value < 0x10000 {
                    result.append(contentsOf: "\\u\(hex(scalar.value, width: 4))".unicodeScalars)
                } else {
                    result.append(contentsOf: "\\U\(hex(scalar.value, width: 8))".unicodeScalars)
                }
            }
        }
        result.append(quote)
        return String(result)
    }

    /// Lower-case hexadecimal of `value`, zero-padded to `width`.
    static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// Python's `str.lower()`: full per-code-point mappings, plus the one contextual rule,
    /// capital sigma at the end of a word becoming final sigma `ς`.
    static func lowercased(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var result = ""
        for index in scalars.indices { result += lowercase(scalars, at: index) }
        return result
    }

    /// The lower-case form of `scalars[index]` in its context.
    static func lowercase(_ scalars: [Unicode.Scalar], at index: Int) -> String {
        guard scalars[index] == "\u{03A3}" else { return scalars[index].properties.lowercaseMapping }
        // Final_Sigma: a cased letter before (skipping case-ignorables) and none after.
        var before = index - 1
        while before >= 0, scalars[before].properties.isCaseIgnorable { before -= 1 }
        guard before >= 0, scalars[before].properties.isCased else { return "\u{03C3}" }
        var after = index + 1
        while after < scalars.count, scalars[after].properties.isCaseIgnorable { after += 1 }
        return after == scalars.count || !scalars[after].properties.isCased ? "\u{03C2}" : "\u{03C3}"
    }

    /// Python's `str.upper()`: full per-code-point mappings (`ß` becomes `SS`).
    static func uppercased(_ text: String) -> String {
        text.unicodeScalars.map(\.properties.uppercaseMapping).joined()
    }
}
