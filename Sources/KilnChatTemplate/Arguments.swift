/// The arguments of one call: positional, then keyword by name.
struct Arguments {
    /// Positional arguments in order.
    var positional: [Value] = []
    /// Keyword arguments in source order.
    var keywords = OrderedMap<Value>()

    /// The argument at `position`, else the keyword `name`, else `nil`.
    func value(_ position: Int, _ name: String) -> Value? {
        if position >= 0, position < positional.count { return positional[position] }
        return keywords[name]
    }

    /// Like `value(_:_:)` but an undefined argument counts as absent, as Jinja's defaults do.
    func defined(_ position: Int, _ name: String) -> Value? {
        guard let value = value(position, name), !value.isUndefined else { return nil }
        return value
    }

    /// The integer argument, or `fallback` when absent.
    func int(_ position: Int, _ name: String, default fallback: Int) throws -> Int {
        guard let value = defined(position, name) else { return fallback }
        switch value {
        case .none: return fallback
        case .int(let number): return number
        case .bool(let flag): return flag ? 1 : 0
        default: throw ChatTemplateError(.type, "'\(value.typeName)' object cannot be interpreted as an integer")
        }
    }

    /// The truthiness of the argument, or `fallback` when absent.
    func bool(_ position: Int, _ name: String, default fallback: Bool) -> Bool {
        defined(position, name)?.isTruthy ?? fallback
    }

    /// The string argument (`str()` of whatever was passed), or `fallback` when absent.
    func string(_ position: Int, _ name: String, default fallback: String?) -> String? {
        guard let value = defined(position, name) else { return fallback }
        if case .none = value { return fallback }
        return value.str
    }
}
