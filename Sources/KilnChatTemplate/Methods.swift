/// The Python methods templates call on values (`text.strip()`, `message.get('x')`), bound to
/// their receiver. Only non-mutating methods exist: Hugging Face renders in Jinja's immutable
/// sandbox, where `list.append` and `dict.update` are refused.
enum Methods {
    /// The method `name` of `value`, or `nil` if Python's type has no such (safe) method.
    static func bound(_ name: String, to value: Value) -> Callable? {
        switch value {
        case .string(let text): return stringMethod(name, text)
        case .dictionary(let map): return dictionaryMethod(name, map)
        case .array(let items), .tuple(let items): return listMethod(name, items)
        default: return nil
        }
    }

    private static func dictionaryMethod(_ name: String, _ map: OrderedMap<Value>) -> Callable? {
        switch name {
        case "items":
            return Callable(name) { _, _ in .array(map.entries.map { .tuple([.string($0.key), $0.value]) }) }
        case "keys":
            return Callable(name) { _, _ in .array(map.keys.map(Value.string)) }
        case "values":
            return Callable(name) { _, _ in .array(map.values) }
        case "get":
            return Callable(name) { _, arguments in
                guard let key = arguments.value(0, "key") else { throw ChatTemplateError(.type, "get expected at least 1 argument, got 0") }
                let fallback = arguments.value(1, "default") ?? .none
                guard case .string(let text) = key else { return fallback }
                return map[text] ?? fallback
            }
        case "copy":
            return Callable(name) { _, _ in .dictionary(map) }
        default:
            return nil
        }
    }

    private static func listMethod(_ name: String, _ items: [Value]) -> Callable? {
        switch name {
        case "count":
            return Callable(name) { _, arguments in
                let needle = arguments.value(0, "value") ?? .none
                return .int(items.filter { $0.isEqual(to: needle) }.count)
            }
        case "index":
            return Callable(name) { _, arguments in
                let needle = arguments.value(0, "value") ?? .none
                guard let index = items.firstIndex(where: { $0.isEqual(to: needle) }) else {
                    throw ChatTemplateError(.type, "\(needle.repr) is not in list")
                }
                return .int(index)
            }
        case "copy":
            return Callable(name) { _, _ in .array(items) }
        default:
            return nil
        }
    }

    private static func stringMethod(_ name: String, _ text: String) -> Callable? {
        func method(_ body: @escaping (Arguments) throws -> Value) -> Callable {
            Callable(name) { _, arguments in try body(arguments) }
        }
        switch name {
        case "strip", "lstrip", "rstrip":
            return method { arguments in
                .string(PythonText.strip(text, arguments.string(0, "chars", default: nil), leading: name != "rstrip", trailing: name != "lstrip"))
            }
        case "split", "rsplit":
            return method { arguments in
                let separator = arguments.string(0, "sep", default: nil)
                let limit = try arguments.int(1, "maxsplit", default: -1)
                return .array(try StringMethods.split(text, separator: separator, limit: limit, fromRight: name == "rsplit").map(Value.string))
            }
        case "splitlines":
            return method { _ in .array(PythonText.splitLines(text).map(Value.string)) }
        case "startswith", "endswith":
            return method { arguments in
                let candidates: [String]
                switch arguments.value(0, "prefix") ?? .none {
                case .string(let affix): candidates = [affix]
                case .tuple(let items), .array(let items): candidates = items.map(\.str)
                case let other: throw ChatTemplateError(.type, "\(name) first arg must be str or a tuple of str, not \(other.typeName)")
                }
                return .bool(candidates.contains { affix in
                    name == "startswith" ? text.unicodeScalars.starts(with: affix.unicodeScalars)
                        : text.unicodeScalars.reversed().starts(with: affix.unicodeScalars.reversed())
                })
            }
        case "upper": return method { _ in .string(PythonText.uppercased(text)) }
        case "lower": return method { _ in .string(PythonText.lowercased(text)) }
        case "title": return method { _ in .string(StringMethods.title(text)) }
        case "capitalize": return method { _ in .string(StringMethods.capitalize(text)) }
        case "swapcase":
            return method { _ in
                .string(text.unicodeScalars.map { scalar in
                    scalar.properties.isUppercase ? scalar.properties.lowercaseMapping
                        : scalar.properties.isLowercase ? scalar.properties.uppercaseMapping : String(scalar)
                }.joined())
            }
        case "replace":
            return method { arguments in
                let old = arguments.string(0, "old", default: "") ?? ""
                let new = arguments.string(1, "new", default: "") ?? ""
                return .string(StringMethods.replace(text, old, new, count: try arguments.int(2, "count", default: -1)))
            }
        case "format":
            return method { arguments in .string(try StringMethods.format(text, arguments)) }
        case "find", "rfind", "index", "rindex":
            return method { arguments in
                let part = arguments.string(0, "sub", default: "") ?? ""
                let position = StringMethods.find(part, in: text, fromRight: name.hasPrefix("r"))
                if position < 0, name.hasSuffix("index") { throw ChatTemplateError(.type, "substring not found") }
                return .int(position)
            }
        case "count":
            return method { arguments in
                .int(StringMethods.count(arguments.string(0, "sub", default: "") ?? "", in: text))
            }
        case "join":
            return method { arguments in
                .string(try (arguments.value(0, "iterable") ?? .none).iterationItems().map { item in
                    guard case .string(let part) = item else {
                        throw ChatTemplateError(.type, "sequence item: expected str instance, \(item.typeName) found")
                    }
                    return part
                }.joined(separator: text))
            }
        case "isalpha", "isdigit", "isnumeric", "isdecimal", "isalnum", "isspace", "isupper", "islower":
            return method { _ in .bool(StringMethods.classify(text, name)) }
        case "removeprefix":
            return method { arguments in
                let prefix = arguments.string(0, "prefix", default: "") ?? ""
                return .string(text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text)
            }
        case "removesuffix":
            return method { arguments in
                let suffix = arguments.string(0, "suffix", default: "") ?? ""
                return .string(!suffix.isEmpty && text.hasSuffix(suffix) ? String(text.dropLast(suffix.count)) : text)
            }
        case "center", "ljust", "rjust":
            return method { arguments in
                let width = try arguments.int(0, "width", default: 0)
                let fill = arguments.string(1, "fillchar", default: " ") ?? " "
                return .string(try StringMethods.pad(text, width: width, fill: fill, alignment: name))
            }
        case "zfill":
            return method { arguments in
                .string(try StringMethods.pad(text, width: try arguments.int(0, "width", default: 0), fill: "0", alignment: "rjust"))
            }
        default:
            return nil
        }
    }
}
