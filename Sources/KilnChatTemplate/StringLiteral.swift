/// Decodes the body of a quoted template string the way Jinja does (Python's `unicode-escape`).
enum StringLiteral {
    /// The value of the literal whose text between the quotes is `body`.
    static func decode(_ body: ArraySlice<Unicode.Scalar>, line: Int) throws -> String {
        var result = String.UnicodeScalarView()
        var index = body.startIndex
        func fail(_ message: String) -> ChatTemplateError { ChatTemplateError(.syntax, message, line: line) }
        func hexValue(_ count: Int, name: String) throws -> Unicode.Scalar {
            let end = index + count
            guard end <= body.endIndex, body[index..<end].allSatisfy({ $0.properties.isASCIIHexDigit }) else {
                throw fail("truncated \\\(name) escape")
            }
            var digits = ""
            digits.unicodeScalars.append(contentsOf: body[index..<end])
            index = end
            guard let value = UInt32(digits, radix: 16), let scalar = Unicode.Scalar(value) else {
                throw fail("illegal Unicode character")
            }
            return scalar
        }
        while index < body.endIndex {
            let scalar = body[index]
            index += 1
            guard scalar == "\\", index < body.endIndex else {
                result.append(scalar)
                continue
            }
            let escape = body[index]
            index += 1
            switch escape {
            case "\n": break
            case "\\": result.append("\\")
            case "'": result.append("'")
            case "\"": result.append("\"")
            case "a": result.append("\u{07}")
            case "b": result.append("\u{08}")
            case "f": result.append("\u{0C}")
            case "n": result.append("\n")
            case "r": result.append("\r")
            case "t": result.append("\t")
            case "v": result.append("\u{0B}")
            case "x": result.append(try hexValue(2, name: "xXX"))
            case "u": result.append(try hexValue(4, name: "uXXXX"))
            case "U": result.append(try hexValue(8, name: "UXXXXXXXX"))
            case "N": throw fail("malformed \\N character escape")
            case "0"..."7":
                var value = escape.value - 0x30
                var digits = 1
                while digits < 3, index < body.endIndex, ("0"..."7").contains(body[index]) {
                    value = value * 8 + body[index].value - 0x30
                    index += 1
                    digits += 1
                }
                result.append(Unicode.Scalar(value) ?? "\u{FFFD}")
            default:
                // Python keeps unknown escapes verbatim, backslash included.
                result.append("\\")
                result.append(escape)
            }
        }
        return String(result)
    }
}
