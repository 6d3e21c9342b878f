/// One GGUF metadata value. Arrays of scalars and strings are kept typed (not as arrays of
/// enums) because tokenizer vocabularies hold hundreds of thousands of entries.
public enum GGUFValue: Sendable, Equatable {
    case uint(UInt64)
    case int(Int64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array(GGUFArray)

    /// Any integer kind as `Int`, nil for other kinds or values out of range.
    public var intValue: Int? {
        switch self {
        case let .uint(value): return Int(exactly: value)
        case let .int(value): return Int(exactly: value)
        default: return nil
        }
    }

    /// Integer or floating value as `Double`.
    public var doubleValue: Double? {
        switch self {
        case let .uint(value): return Double(value)
        case let .int(value): return Double(value)
        case let .float(value): return value
        default: return nil
        }
    }

    /// The value when it is a bool (or, as some converters write, an integer 0/1).
    public var boolValue: Bool? {
        switch self {
        case let .bool(value): return value
        case let .uint(value): return value != 0
        case let .int(value): return value != 0
        default: return nil
        }
    }

    /// The value when it is a string.
    public var stringValue: String? {
        if case let .string(value) = self { return value }
        return nil
    }

    /// The value when it is an array.
    public var arrayValue: GGUFArray? {
        if case let .array(value) = self { return value }
        return nil
    }

    /// A short human-readable rendering (arrays summarised), for `kiln inspect`.
    public var summary: String {
        switch self {
        case let .uint(value): return String(value)
        case let .int(value): return String(value)
        case let .float(value): return String(value)
        case let .bool(value): return String(value)
        case let .string(value):
            let oneLine = value.replacingOccurrences(of: "\n", with: "\\n")
            return oneLine.count > 60 ? "\"\(oneLine.prefix(57))...\"" : "\"\(oneLine)\""
        case let .array(array): return "[\(array.count) \(array.kindName)]"
        }
    }
}

/// A typed GGUF array. GGUF arrays are homogeneous; nested arrays are kept as values.
public enum GGUFArray: Sendable, Equatable {
    case uints([UInt64])
    case ints([Int64])
    case floats([Double])
    case bools([Bool])
    case strings([String])
    case arrays([GGUFArray])

    /// Number of elements.
    public var count: Int {
        switch self {
        case let .uints(values): return values.count
        case let .ints(values): return values.count
        case let .floats(values): return values.count
        case let .bools(values): return values.count
        case let .strings(values): return values.count
        case let .arrays(values): return values.count
        }
    }

    /// The element kind, for messages.
    public var kindName: String {
        switch self {
        case .uints: return "uint"
        case .ints: return "int"
        case .floats: return "float"
        case .bools: return "bool"
        case .strings: return "string"
        case .arrays: return "array"
        }
    }

    /// Integer elements as `Int` (nil when the array is not of integers).
    public var intValues: [Int]? {
        switch self {
        case let .uints(values): return values.map { Int(truncatingIfNeeded: $0) }
        case let .ints(values): return values.map { Int(truncatingIfNeeded: $0) }
        case let .bools(values): return values.map { $0 ? 1 : 0 }
        default: return nil
        }
    }

    /// Numeric elements as `Float` (nil when not numeric).
    public var floatValues: [Float]? {
        switch self {
        case let .floats(values): return values.map { Float($0) }
        case let .uints(values): return values.map { Float($0) }
        case let .ints(values): return values.map { Float($0) }
        default: return nil
        }
    }

    /// Bool elements (nil when not bools).
    public var boolValues: [Bool]? {
        if case let .bools(values) = self { return values }
        return nil
    }

    /// String elements (nil when not strings).
    public var stringValues: [String]? {
        if case let .strings(values) = self { return values }
        return nil
    }
}
