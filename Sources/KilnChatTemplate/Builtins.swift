import Foundation

/// The global functions a chat template can call: Jinja's `range`, `namespace`, `dict`, and
/// transformers' `raise_exception` and `strftime_now`.
enum Builtins {
    /// Jinja's sandbox refuses ranges longer than this (`MAX_RANGE`).
    static let maximumRange = 100_000

    static func all() -> [(String, Callable)] {
        [
            ("range", Callable("range", range)),
            ("namespace", Callable("namespace", namespace)),
            ("dict", Callable("dict") { _, arguments in .dictionary(arguments.keywords) }),
            ("raise_exception", Callable("raise_exception") { _, arguments in
                throw ChatTemplateError(.raised, arguments.value(0, "message")?.str ?? "")
            }),
            ("strftime_now", Callable("strftime_now") { interpreter, arguments in
                .string(Strftime.format(arguments.value(0, "format")?.str ?? "", date: interpreter.now, timeZone: interpreter.timeZone))
            }),
        ]
    }

    private static func range(_ interpreter: Interpreter, _ arguments: Arguments) throws -> Value {
        let bounds = try arguments.positional.map { value -> Int in
            switch value {
            case .int(let number): return number
            case .bool(let flag): return flag ? 1 : 0
            default: throw ChatTemplateError(.type, "'\(value.typeName)' object cannot be interpreted as an integer")
            }
        }
        let (start, stop, step): (Int, Int, Int)
        switch bounds.count {
        case 1: (start, stop, step) = (0, bounds[0], 1)
        case 2: (start, stop, step) = (bounds[0], bounds[1], 1)
        case 3: (start, stop, step) = (bounds[0], bounds[1], bounds[2])
        default: throw ChatTemplateError(.type, "range expected at most 3 arguments, got \(bounds.count)")
        }
        guard step != 0 else { throw ChatTemplateError(.type, "range() arg 3 must not be zero") }
        var values: [Value] = []
        var current = start
        while step > 0 ? current < stop : current > stop {
            guard values.count < maximumRange else {
                throw ChatTemplateError(.type, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (\(maximumRange)).")
            }
            values.append(.int(current))
            let (next, overflow) = current.addingReportingOverflow(step)
            if overflow { break }
            current = next
        }
        return .array(values)
    }

    /// `namespace(mapping?, **attributes)`.
    private static func namespace(_ interpreter: Interpreter, _ arguments: Arguments) throws -> Value {
        var attributes = OrderedMap<Value>()
        if let first = arguments.positional.first {
            guard case .dictionary(let map) = first else { throw ChatTemplateError(.type, "namespace() expects a mapping") }
            attributes = map
        }
        for (name, value) in arguments.keywords.entries { attributes[name] = value }
        return .namespace(Namespace(attributes))
    }
}
