/// A runtime value of the template language, modelled on the Python objects Jinja works with.
///
/// `TemplateValue` is the data a caller passes; `Value` adds what only exists while rendering:
/// undefined lookups, tuples, namespaces, callables and loop state.
enum Value {
    /// A failed lookup; harmless until used in arithmetic, attribute access or a call.
    case undefined(Undefined)
    /// Python's `None`.
    case none
    /// `True` / `False`.
    case bool(Bool)
    /// An integer.
    case int(Int)
    /// A float.
    case double(Double)
    /// A string; lengths and indices count Unicode scalars, like Python's code points.
    case string(String)
    /// A list.
    case array([Value])
    /// A tuple: behaves as a list but prints with parentheses (`loop` items, `dictsort` pairs).
    case tuple([Value])
    /// A dict with string keys in insertion order.
    case dictionary(OrderedMap<Value>)
    /// A mutable `namespace()`, shared by reference so loop bodies can update it.
    case namespace(Namespace)
    /// A macro, builtin function or bound method.
    case callable(Callable)
    /// The `loop` variable of a `for` body.
    case loop(LoopContext)

    /// The runtime value of caller data.
    init(_ value: TemplateValue) {
        switch value {
        case .null: self = .none
        case .bool(let flag): self = .bool(flag)
        case .int(let number): self = .int(number)
        case .double(let number): self = .double(number)
        case .string(let text): self = .string(text)
        case .array(let items): self = .array(items.map(Value.init))
        case .object(let map): self = .dictionary(map.mapValues(Value.init))
        }
    }

    /// Python truthiness.
    var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let flag): return flag
        case .int(let number): return number != 0
        case .double(let number): return number != 0
        case .string(let text): return !text.isEmpty
        case .array(let items), .tuple(let items): return !items.isEmpty
        case .dictionary(let map): return !map.isEmpty
        case .namespace, .callable, .loop: return true
        }
    }

    /// Whether this is an undefined lookup.
    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// The items of a list or tuple.
    var sequenceItems: [Value]? {
        switch self {
        case .array(let items), .tuple(let items): return items
        default: return nil
        }
    }

    /// Python's name for the type, as in `TypeError` messages.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .tuple: return "tuple"
        case .dictionary: return "dict"
        case .namespace: return "Namespace"
        case .callable: return "function"
        case .loop: return "LoopContext"
        }
    }

    /// Jinja's `object_type_repr`, used in "has no attribute" messages.
    var objectDescription: String {
        switch self {
        case .none: return "None"
        default: return "\(typeName) object"
        }
    }

    /// The value as a number for arithmetic (`bool` counts as `int`, as in Python).
    var number: Number? {
        switch self {
        case .bool(let flag): return .int(flag ? 1 : 0)
        case .int(let value): return .int(value)
        case .double(let value): return .double(value)
        default: return nil
        }
    }

    /// Fails with the undefined value's own message if this is undefined (Jinja's
    /// `_fail_with_undefined_error`).
    func requireDefined() throws -> Value {
        if case .undefined(let undefined) = self { throw undefined.error }
        return self
    }

    /// The elements `for` iterates: list items, dict keys, string characters; undefined is empty.
    func iterationItems() throws -> [Value] {
        switch self {
        case .undefined: return []
        case .array(let items), .tuple(let items): return items
        case .dictionary(let map): return map.keys.map(Value.string)
        case .string(let text): return text.unicodeScalars.map { .string(String($0)) }
        case .namespace, .loop, .none, .bool, .int, .double, .callable:
            throw ChatTemplateError(.type, "'\(typeName)' object is not iterable")
        }
    }
}

/// An integer or float operand, after `bool` has become `int`.
enum Number {
    /// An integer.
    case int(Int)
    /// A float.
    case double(Double)

    /// The value as a float.
    var double: Double {
        switch self {
        case .int(let value): return Double(value)
        case .double(let value): return value
        }
    }
}
