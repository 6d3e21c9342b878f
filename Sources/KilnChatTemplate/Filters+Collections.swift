/// The filters over sequences and mappings: ordering, selection, mapping, joining.
extension Filters {
    static func applyCollectionFilter(_ name: String, to value: Value, _ arguments: Arguments, interpreter: Interpreter) throws -> Value {
        switch name {
        case "list":
            return .array(try value.iterationItems())
        case "first":
            return try value.iterationItems().first ?? Undefined.hint("No first item, sequence was empty.")
        case "last":
            return try value.iterationItems().last ?? Undefined.hint("No last item, sequence was empty.")
        case "reverse":
            if case .string(let text) = value { return .string(String(String.UnicodeScalarView(text.unicodeScalars.reversed()))) }
            return .array(try value.iterationItems().reversed())
        case "join":
            let separator = arguments.string(0, "d", default: "") ?? ""
            var items = try value.iterationItems()
            if let attribute = arguments.string(1, "attribute", default: nil) {
                items = try items.map { try lookup(attribute, in: $0, interpreter: interpreter) }
            }
            return .string(items.map(\.str).joined(separator: separator))
        case "items":
            switch value {
            case .undefined: return .array([])
            case .dictionary(let map): return .array(map.entries.map { .tuple([.string($0.key), $0.value]) })
            default: throw ChatTemplateError(.type, "Can only get item pairs from a mapping.")
            }
        case "dictsort":
            return try dictsort(value, arguments)
        case "sort":
            let key = sortKey(arguments.bool(1, "case_sensitive", default: false), arguments.string(2, "attribute", default: nil), interpreter)
            return .array(try sorted(try value.iterationItems(), by: key, reverse: arguments.bool(0, "reverse", default: false)))
        case "unique":
            let key = sortKey(arguments.bool(0, "case_sensitive", default: false), arguments.string(1, "attribute", default: nil), interpreter)
            var seen: [Value] = []
            var result: [Value] = []
            for item in try value.iterationItems() {
                let itemKey = try key(item)
                guard !seen.contains(where: { $0.isEqual(to: itemKey) }) else { continue }
                seen.append(itemKey)
                result.append(item)
            }
            return .array(result)
        case "min", "max":
            let key = sortKey(arguments.bool(0, "case_sensitive", default: false), arguments.string(1, "attribute", default: nil), interpreter)
            let ordered = try sorted(try value.iterationItems(), by: key, reverse: false)
            return (name == "min" ? ordered.first : ordered.last) ?? Undefined.hint("No aggregated item, sequence was empty.")
        case "sum":
            var total = arguments.value(1, "start") ?? .int(0)
            for item in try value.iterationItems() {
                let term = try arguments.string(0, "attribute", default: nil).map { try lookup($0, in: item, interpreter: interpreter) } ?? item
                total = try Arithmetic.binary(.add, total, term)
            }
            return total
        case "batch":
            let size = try arguments.int(0, "linecount", default: 1)
            guard size > 0 else { throw ChatTemplateError(.type, "batch size must be positive") }
            let items = try value.iterationItems()
            var batches: [Value] = []
            var start = 0
            while start < items.count {
                var batch = Array(items[start..<min(start + size, items.count)])
                if batch.count < size, let fill = arguments.value(1, "fill_with"), !fill.isUndefined, !(fill.isEqual(to: .none)) {
                    try Arithmetic.checkRepeat(size - batch.count, size: 1)
                    batch += Array(repeating: fill, count: size - batch.count)
                }
                batches.append(.array(batch))
                start += size
            }
            return .array(batches)
        case "map":
            // Jinja's `map` and `select` family start with `if value:`; a falsy input yields nothing.
            guard value.isTruthy else { return .array([]) }
            return .array(try value.iterationItems().map { try mapItem($0, arguments, interpreter: interpreter) })
        case "select", "reject", "selectattr", "rejectattr":
            guard value.isTruthy else { return .array([]) }
            let byAttribute = name.hasSuffix("attr")
            let keep = name.hasPrefix("select")
            return .array(try value.iterationItems().filter { try selects($0, arguments, byAttribute: byAttribute, interpreter: interpreter) == keep })
        default:
            throw ChatTemplateError(.unsupported, "the filter '\(name)' is not supported")
        }
    }

    /// Jinja's `make_attrgetter`: `a.b.0` looks up each dot-separated part as an item.
    static func lookup(_ path: String, in value: Value, interpreter: Interpreter, default fallback: Value? = nil) throws -> Value {
        var current = value
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            let key: Value = Int(part).map(Value.int) ?? .string(String(part))
            current = try interpreter.item(key, of: current)
            if let fallback, current.isUndefined { current = fallback }
        }
        return current
    }

    /// The key Jinja sorts and deduplicates by: the attribute if given, strings lower-cased
    /// unless `caseSensitive`.
    private static func sortKey(_ caseSensitive: Bool, _ attribute: String?, _ interpreter: Interpreter) -> (Value) throws -> Value {
        { item in
            var key = item
            if let attribute { key = try lookup(attribute, in: item, interpreter: interpreter) }
            if !caseSensitive, case .string(let text) = key { key = .string(PythonText.lowercased(text)) }
            return key
        }
    }

    /// A stable sort, as Python's `sorted`; mixed incomparable types fail as there.
    private static func sorted(_ items: [Value], by key: (Value) throws -> Value, reverse: Bool) throws -> [Value] {
        let keyed = try items.enumerated().map { (offset: $0.offset, key: try key($0.element), item: $0.element) }
        var failure: (any Error)?
        let ordered = keyed.sorted { left, right in
            do {
                let order = try left.key.compare(to: right.key, operator: "<")
                if order != 0 { return reverse ? order > 0 : order < 0 }
            } catch {
                failure = failure ?? error
            }
            return left.offset < right.offset
        }
        if let failure { throw failure }
        return ordered.map(\.item)
    }

    private static func dictsort(_ value: Value, _ arguments: Arguments) throws -> Value {
        guard case .dictionary(let map) = value else { throw ChatTemplateError(.type, "You can only sort by either \"key\" or \"value\"") }
        let caseSensitive = arguments.bool(0, "case_sensitive", default: false)
        let byValue = (arguments.string(1, "by", default: "key") ?? "key") == "value"
        guard ["key", "value"].contains(arguments.string(1, "by", default: "key") ?? "key") else {
            throw ChatTemplateError(.type, "You can only sort by either \"key\" or \"value\"")
        }
        let pairs = map.entries.map { Value.tuple([.string($0.key), $0.value]) }
        let key: (Value) throws -> Value = { pair in
            guard case .tuple(let parts) = pair else { return pair }
            let chosen = parts[byValue ? 1 : 0]
            if !caseSensitive, case .string(let text) = chosen { return .string(PythonText.lowercased(text)) }
            return chosen
        }
        return .array(try sorted(pairs, by: key, reverse: arguments.bool(2, "reverse", default: false)))
    }

    /// One element of `map`: an attribute lookup, or another filter applied.
    private static func mapItem(_ item: Value, _ arguments: Arguments, interpreter: Interpreter) throws -> Value {
        if arguments.positional.isEmpty, let attribute = arguments.keywords["attribute"] {
            let fallback = arguments.keywords["default"]
            return try lookup(attribute.str, in: item, interpreter: interpreter, default: fallback.flatMap { $0.isEqual(to: .none) ? nil : $0 })
        }
        guard case .string(let filter)? = arguments.positional.first else {
            throw ChatTemplateError(.type, "map requires a filter argument")
        }
        guard names.contains(filter) else { throw ChatTemplateError(.type, "No filter named '\(filter)'.") }
        var rest = arguments
        rest.positional.removeFirst()
        return try apply(filter, to: item, rest, interpreter: interpreter)
    }

    /// Whether `select`/`selectattr` would keep `item`: the named test, or plain truthiness.
    private static func selects(_ item: Value, _ arguments: Arguments, byAttribute: Bool, interpreter: Interpreter) throws -> Bool {
        var rest = arguments.positional
        var subject = item
        if byAttribute {
            guard !rest.isEmpty else { throw ChatTemplateError(.type, "Missing parameter for attribute name") }
            subject = try lookup(rest.removeFirst().str, in: item, interpreter: interpreter)
        }
        guard !rest.isEmpty else { return subject.isTruthy }
        let test = rest.removeFirst().str
        guard IsTests.names.contains(test) else { throw ChatTemplateError(.type, "No test named '\(test)'.") }
        return try IsTests.apply(test, to: subject, Arguments(positional: rest, keywords: arguments.keywords), interpreter: interpreter)
    }
}
