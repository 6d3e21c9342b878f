/// The data a caller hands to a template: JSON's values, with object keys kept in order.
public enum TemplateValue: Sendable, Equatable {
    /// Python's `None` (JSON `null`).
    case null
    /// `True` or `False`.
    case bool(Bool)
    /// An integer.
    case int(Int)
    /// A floating-point number.
    case double(Double)
    /// A string.
    case string(String)
    /// A list.
    case array([TemplateValue])
    /// A mapping with string keys, in insertion order.
    case object(OrderedMap<TemplateValue>)
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    /// A string value.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An integer value.
    public init(integerLiteral value: Int) { self = .int(value) }
    /// A floating-point value.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// A boolean value.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// A list value.
    public init(arrayLiteral elements: TemplateValue...) { self = .array(elements) }
    /// A mapping, in the order the literal lists its entries.
    public init(dictionaryLiteral elements: (String, TemplateValue)...) { self = .object(OrderedMap(elements)) }
    /// `None`.
    public init(nilLiteral: ()) { self = .null }
}

extension TemplateValue {
    /// The string, when this is a string.
    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The entry `key`, when this is an object that has it.
    public subscript(key: String) -> TemplateValue? {
        if case .object(let map) = self { return map[key] }
        return nil
    }
}
