/// A frame of variables. `for` iterations, macro calls and `with` blocks each get a child;
/// `if` does not, so `{% set %}` inside an `if` changes the enclosing frame, as in Jinja.
final class Scope {
    private var variables: [String: Value] = [:]
    /// The enclosing frame, searched when a name is not set here.
    let parent: Scope?

    init(parent: Scope?) { self.parent = parent }

    /// The value of `name` in this frame or an enclosing one.
    func lookup(_ name: String) -> Value? {
        var scope: Scope? = self
        while let current = scope {
            if let value = current.variables[name] { return value }
            scope = current.parent
        }
        return nil
    }

    /// Sets `name` in this frame (never an enclosing one).
    func set(_ name: String, _ value: Value) { variables[name] = value }
}

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
