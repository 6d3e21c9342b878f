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
