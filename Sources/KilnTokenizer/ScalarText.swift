/// A run of text decoded once into Unicode scalars, with the character class of each scalar and
/// its UTF-8 offset, so that pre-tokenizer scanners can look ahead by index and report byte ranges.
///
/// Classes follow llama.cpp's `unicode_cpt_flags` (generated from Python's `regex` module):
/// `\p{L}` is the general categories Lu/Ll/Lt/Lm/Lo (marks are *not* letters), `\p{N}` is
/// Nd/Nl/No, and `\s` is the Unicode `White_Space` property. Any other scalar is "other".
struct ScalarText {
    /// Scalar values, `[count]`.
    var scalars: [UInt32]
    /// `ScalarClass` raw values, `[count]`.
    var classes: [UInt8]
    /// UTF-8 offset of each scalar relative to the start of the decoded bytes, `[count + 1]`
    /// (the last entry is the byte length).
    var byteOffsets: [Int32]

    /// Number of scalars.
    var count: Int { scalars.count }

    /// Decodes `bytes`, which must be valid UTF-8 (a `String`'s bytes always are).
    init(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        var scalars: [UInt32] = []
        var classes: [UInt8] = []
        var offsets: [Int32] = []
        scalars.reserveCapacity(bytes.count)
        classes.reserveCapacity(bytes.count)
        offsets.reserveCapacity(bytes.count + 1)
        var index = 0
        let end = bytes.count
        while index < end {
            let lead = bytes[index]
            offsets.append(Int32(index))
            if lead < 0x80 {
                scalars.append(UInt32(lead))
                classes.append(ScalarClass.asciiTable[Int(lead)])
                index += 1
                continue
            }
            // Valid UTF-8 by construction; a truncated sequence (only possible for byte slices
            // cut mid-character) decodes what is there rather than reading past the end.
            var value: UInt32
            var length: Int
            if lead >= 0xF0 { value = UInt32(lead & 0x07); length = 4 }
            else if lead >= 0xE0 { value = UInt32(lead & 0x0F); length = 3 }
            else { value = UInt32(lead & 0x1F); length = 2 }
            length = min(length, end - index)
            for k in 1..<max(length, 1) {
                value = (value << 6) | UInt32(bytes[index + k] & 0x3F)
            }
            scalars.append(value)
            classes.append(ScalarClass.classify(value))
            index += max(length, 1)
        }
        offsets.append(Int32(end))
        self.scalars = scalars
        self.classes = classes
        self.byteOffsets = offsets
    }
}

/// Character classes the pre-tokenizer regexes distinguish, as bit flags in a `UInt8`.
enum ScalarClass {
    /// `\p{L}`.
    static let letter: UInt8 = 1
    /// `\p{N}`.
    static let number: UInt8 = 2
    /// `\s` (Unicode White_Space).
    static let whitespace: UInt8 = 4

    /// Classes of the 128 ASCII scalars, the overwhelmingly common case.
    static let asciiTable: [UInt8] = (0..<128).map { classifySlow(UInt32($0)) }

    /// Class of one scalar.
    @inline(__always)
    static func classify(_ value: UInt32) -> UInt8 {
        value < 128 ? asciiTable[Int(value)] : classifySlow(value)
    }

    /// Class from the Unicode properties Swift ships (surrogates cannot occur in a `String`).
    static func classifySlow(_ value: UInt32) -> UInt8 {
        guard let scalar = Unicode.Scalar(value) else { return 0 }
        let properties = scalar.properties
        if properties.isWhitespace { return whitespace }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return number
        default:
            return 0
        }
    }
}
