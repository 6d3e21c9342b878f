/// Something the template can call: a macro, a builtin, or a method bound to its receiver.
final class Callable {
    /// The name used in messages and `repr`.
    let name: String
    /// Runs the call; the interpreter is passed in rather than captured to avoid reference cycles.
    let body: (Interpreter, Arguments) throws -> Value

    init(_ name: String, _ body: @escaping (Interpreter, Arguments) throws -> Value) {
        self.name = name
        self.body = body
    }
}
