/// A string-keyed dictionary that remembers insertion order, as Python's `dict` does.
///
/// Templates iterate over tool schemas and `tojson` prints them; both must follow the order the
/// caller wrote the keys in, which Swift's `Dictionary` does not keep.
public struct OrderedMap<Value> {
    /// The keys in insertion order; every key appears once.
    public private(set) var keys: [String] = []
    private var storage: [String: Value] = [:]

    /// An empty map.
    public init() {}

    /// A map of `pairs` in order; a repeated key keeps its first position and its last value.
    public init<S: Sequence>(_ pairs: S) where S.Element == (String, Value) {
        for (key, value) in pairs { self[key] = value }
    }

    /// The number of entries.
    public var count: Int { keys.count }

    /// Whether the map has no entries.
    public var isEmpty: Bool { keys.isEmpty }

    /// The value for `key`; assigning `nil` removes the entry, assigning a new key appends it.
    public subscript(key: String) -> Value? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// The values in key order.
    public var values: [Value] { keys.compactMap { storage[$0] } }

    /// The entries in key order.
    public var entries: [(key: String, value: Value)] { keys.compactMap { key in storage[key].map { (key, $0) } } }

    /// A map with the same keys, each value transformed.
    public func mapValues<T>(_ transform: (Value) throws -> T) rethrows -> OrderedMap<T> {
        var result = OrderedMap<T>()
        for key in keys { if let value = storage[key] { result[key] = try transform(value) } }
        return result
    }
}

extension OrderedMap: Sendable where Value: Sendable {}

extension OrderedMap: Equatable where Value: Equatable {
    /// Equal when both hold the same keys in the same order with equal values.
    public static func == (lhs: OrderedMap, rhs: OrderedMap) -> Bool {
        lhs.keys == rhs.keys && lhs.storage == rhs.storage
    }
}

extension OrderedMap: ExpressibleByDictionaryLiteral {
    /// A map in the order the literal lists its entries.
    public init(dictionaryLiteral elements: (String, Value)...) {
        self.init(elements)
    }
}
