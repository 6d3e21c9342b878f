/// Why a lookup came back undefined; the message Jinja raises when the value is used.
struct Undefined {
    /// The missing name or attribute.
    let name: String
    /// The object the attribute was looked up on (`nil` for a plain missing variable).
    let owner: String?
    /// A custom message (for example a macro parameter that was not passed).
    var hint: String?

    /// An undefined variable `name`.
    static func variable(_ name: String) -> Value { .undefined(Undefined(name: name, owner: nil)) }

    /// An undefined result that explains itself with `message` when used.
    static func hint(_ message: String) -> Value { .undefined(Undefined(name: "", owner: nil, hint: message)) }

    /// A missing attribute or key `name` of `owner`.
    static func attribute(_ name: String, of owner: Value) -> Value {
        .undefined(Undefined(name: name, owner: owner.objectDescription))
    }

    /// A missing element `index` of `owner`.
    static func element(_ index: Value, of owner: Value) -> Value {
        .undefined(Undefined(name: index.repr, owner: owner.objectDescription, hint: "\(owner.objectDescription) has no element \(index.repr)"))
    }

    /// Jinja's `_undefined_message`.
    var message: String {
        if let hint { return hint }
        guard let owner else { return "'\(name)' is undefined" }
        return "'\(owner)' has no attribute '\(name)'"
    }

    /// The error using this value raises.
    var error: ChatTemplateError { ChatTemplateError(.undefined, message) }
}
