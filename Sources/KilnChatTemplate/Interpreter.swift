import Foundation

/// Runs a parsed template against one context. One interpreter per render: it owns the scopes
/// and the output, and nothing outlives the call.
final class Interpreter {
    /// Builtin globals (`range`, `namespace`...), below the caller's variables.
    let globals: Scope
    /// The template's top-level frame: the caller's context plus top-level `set`s.
    let root: Scope
    /// The instant `strftime_now` formats.
    let now: Date
    /// The zone `strftime_now` formats in.
    let timeZone: TimeZone
    /// Nested macro calls in progress. Bounded well below what a small thread stack holds; Jinja
    /// stops near 200 too (Python's recursion limit of 1000 frames, about five per macro call).
    var callDepth = 0
    static let maximumCallDepth = 100

    /// What a statement list asks of its enclosing loop.
    enum Flow {
        /// Carry on with the next statement.
        case normal
        /// `{% break %}`: leave the innermost loop.
        case breakLoop
        /// `{% continue %}`: go to the next iteration.
        case continueLoop
    }

    init(context: [String: TemplateValue], now: Date, timeZone: TimeZone) {
        self.now = now
        self.timeZone = timeZone
        globals = Scope(parent: nil)
        root = Scope(parent: globals)
        for (name, callable) in Builtins.all() { globals.set(name, .callable(callable)) }
        for (name, value) in context { root.set(name, Value(value)) }
    }

    /// The text of the template's top-level frame.
    func render(_ program: Frame) throws -> String {
        var output = ""
        _ = try execute(program, in: root, into: &output)
        return output
    }

    /// A frame's statements in `scope`, a fresh scope for that frame.
    func execute(_ frame: Frame, in scope: Scope, into output: inout String) throws -> Flow {
        for name in frame.undefinedAtEntry { scope.set(name, Undefined.variable(name)) }
        return try execute(frame.body, in: scope, into: &output)
    }

    func execute(_ statements: [Statement], in scope: Scope, into output: inout String) throws -> Flow {
        for statement in statements {
            let flow = try execute(statement, in: scope, into: &output)
            if flow != .normal { return flow }
        }
        return .normal
    }

    private func execute(_ statement: Statement, in scope: Scope, into output: inout String) throws -> Flow {
        do {
            switch statement.kind {
            case .text(let text):
                output += text
            case .output(let expression):
                output += try evaluate(expression, in: scope).str
            case .conditional(let branches, let otherwise):
                for branch in branches where try evaluate(branch.condition, in: scope).isTruthy {
                    return try execute(branch.body, in: scope, into: &output)
                }
                return try execute(otherwise, in: scope, into: &output)
            case .loop(let target, let iterable, let filter, let body, let otherwise):
                return try runLoop(target: target, iterable: iterable, filter: filter, body: body, otherwise: otherwise, in: scope, into: &output)
            case .assign(let target, let expression):
                // Jinja checks a `ns.attr` target before evaluating the value.
                if case .attribute(let namespace, _) = target { _ = try namespaceObject(namespace, in: scope) }
                try assign(try evaluate(expression, in: scope), to: target, in: scope)
            case .assignBlock(let target, let filters, let body):
                var text = ""
                _ = try execute(body, in: Scope(parent: scope), into: &text)
                try assign(try applyFilters(filters, to: .string(text), in: scope), to: target, in: scope)
            case .macro(let definition):
                scope.set(definition.name, .callable(makeMacro(definition, definedIn: scope)))
            case .callBlock(let call, let caller):
                guard case .call(let callee, let arguments) = call.kind else { break }
                let callerValue = Value.callable(makeMacro(caller, definedIn: scope))
                output += try evaluateCall(callee, arguments, in: scope, caller: callerValue).str
            case .filterBlock(let filters, let body):
                var text = ""
                _ = try execute(body, in: Scope(parent: scope), into: &text)
                output += try applyFilters(filters, to: .string(text), in: scope).str
            case .scope(let assignments, let body):
                let inner = Scope(parent: scope)
                for (name, expression) in assignments { inner.set(name, try evaluate(expression, in: scope)) }
                return try execute(body, in: inner, into: &output)
            case .breakLoop:
                return .breakLoop
            case .continueLoop:
                return .continueLoop
            }
            return .normal
        } catch let error as ChatTemplateError {
            throw error.located(at: statement.line)
        }
    }

    /// A `for` loop: each iteration gets its own frame, so `set` inside does not survive it,
    /// nor carry over to the next iteration.
    private func runLoop(
        target: AssignTarget, iterable: Expression, filter: Expression?, body: Frame, otherwise: Frame,
        in scope: Scope, into output: inout String
    ) throws -> Flow {
        var items = try evaluate(iterable, in: scope).iterationItems()
        if let filter {
            items = try items.filter { item in
                let frame = Scope(parent: scope)
                try assign(item, to: target, in: frame)
                return try evaluate(filter, in: frame).isTruthy
            }
        }
        if items.isEmpty { return try execute(otherwise, in: Scope(parent: scope), into: &output) }
        let loop = LoopContext(items: items)
        for (index, item) in items.enumerated() {
            loop.index0 = index
            let frame = Scope(parent: scope)
            for name in body.undefinedAtEntry { frame.set(name, Undefined.variable(name)) }
            try assign(item, to: target, in: frame)
            frame.set("loop", .loop(loop))
            if try execute(body.body, in: frame, into: &output) == .breakLoop { break }
        }
        return .normal
    }

    func assign(_ value: Value, to target: AssignTarget, in scope: Scope) throws {
        switch target {
        case .name(let name):
            scope.set(name, value)
        case .names(let names):
            let items = try value.requireDefined().iterationItems()
            guard items.count == names.count else {
                if items.count > names.count { throw ChatTemplateError(.type, "too many values to unpack (expected \(names.count))") }
                throw ChatTemplateError(.type, "not enough values to unpack (expected \(names.count), got \(items.count))")
            }
            for (name, item) in zip(names, items) { scope.set(name, item) }
        case .attribute(let namespaceName, let attribute):
            try namespaceObject(namespaceName, in: scope).attributes[attribute] = value
        }
    }

    /// The namespace `name` refers to, for an attribute assignment.
    private func namespaceObject(_ name: String, in scope: Scope) throws -> Namespace {
        guard case .namespace(let namespace)? = scope.lookup(name) else {
            throw ChatTemplateError(.type, "cannot assign attribute on non-namespace object")
        }
        return namespace
    }

    func applyFilters(_ filters: [(name: String, arguments: CallArguments)], to value: Value, in scope: Scope) throws -> Value {
        var result = value
        for filter in filters {
            result = try Filters.apply(filter.name, to: result, try evaluateArguments(filter.arguments, in: scope), interpreter: self)
        }
        return result
    }

    /// A macro as a callable. The defining frame is held weakly: frames own their macros, and a
    /// strong reference back would keep every render's frames alive forever.
    func makeMacro(_ definition: MacroDefinition, definedIn scope: Scope) -> Callable {
        Callable(definition.name) { [weak scope] interpreter, arguments in
            try interpreter.callMacro(definition, arguments, definingScope: scope ?? interpreter.root)
        }
    }

    private func callMacro(_ definition: MacroDefinition, _ arguments: Arguments, definingScope: Scope) throws -> Value {
        callDepth += 1
        defer { callDepth -= 1 }
        guard callDepth <= Self.maximumCallDepth else {
            throw ChatTemplateError(.type, "maximum recursion depth exceeded")
        }
        let frame = Scope(parent: definingScope)
        var parameterNames = Set<String>()
        for (position, parameter) in definition.parameters.enumerated() {
            parameterNames.insert(parameter.name)
            let value: Value
            if position < arguments.positional.count {
                value = arguments.positional[position]
            } else if let keyword = arguments.keywords[parameter.name] {
                value = keyword
            } else if let defaultValue = parameter.defaultValue {
                value = try evaluate(defaultValue, in: frame)
            } else {
                value = .undefined(Undefined(name: parameter.name, owner: nil, hint: "parameter '\(parameter.name)' was not provided"))
            }
            frame.set(parameter.name, value)
        }
        let extraPositional = Array(arguments.positional.dropFirst(definition.parameters.count))
        var extraKeywords = OrderedMap<Value>()
        for (name, value) in arguments.keywords.entries where !parameterNames.contains(name) && name != "caller" {
            extraKeywords[name] = value
        }
        frame.set("varargs", .tuple(extraPositional))
        frame.set("kwargs", .dictionary(extraKeywords))
        if let caller = arguments.keywords["caller"] { frame.set("caller", caller) }
        var output = ""
        _ = try execute(definition.body, in: frame, into: &output)
        return .string(output)
    }
}
