/// Works out, frame by frame, which names Jinja starts as undefined, mirroring
/// `jinja2.idtracking` so that shadowing behaves as in the reference.
///
/// Jinja compiles each frame's variables to Python locals. A name whose first mention in a
/// frame is an unconditional `{% set %}`, and that no enclosing frame mentions, starts as
/// `missing`: until the `set` runs it reads as undefined, even if the caller passed a variable of
/// that name (`{% for m in messages %}{{ x }}{% endfor %}{% set x = 1 %}` prints nothing for
/// `x` though the context has one). A first mention that is a read, or a `set` inside an `if`,
/// resolves from the context instead, which plain scope-chain lookup already does.
enum ScopeAnalysis {
    /// The template's top-level frame, with this frame and every nested one annotated.
    static func analyze(_ body: [Statement]) -> Frame {
        annotate(body, parameters: [], enclosingNames: [])
    }

    private static func annotate(_ body: [Statement], parameters: [String], enclosingNames: Set<String>) -> Frame {
        var symbols = Symbols(enclosingNames: enclosingNames)
        for parameter in parameters { symbols.declare(parameter) }
        for statement in body { symbols.visit(statement, conditional: false) }
        let visible = enclosingNames.union(symbols.firstUse.keys)
        return Frame(body: body.map { annotateChildren($0, enclosingNames: visible) }, undefinedAtEntry: symbols.undefinedAtEntry)
    }

    /// The statement with the frames it opens annotated; `if` bodies stay in the current frame.
    private static func annotateChildren(_ statement: Statement, enclosingNames: Set<String>) -> Statement {
        func frame(_ frame: Frame, _ parameters: [String]) -> Frame {
            annotate(frame.body, parameters: parameters, enclosingNames: enclosingNames)
        }
        func macro(_ definition: MacroDefinition) -> MacroDefinition {
            MacroDefinition(
                name: definition.name, parameters: definition.parameters,
                body: frame(definition.body, definition.parameters.map(\.name) + ["varargs", "kwargs", "caller"])
            )
        }
        let kind: Statement.Kind
        switch statement.kind {
        case .conditional(let branches, let otherwise):
            kind = .conditional(
                branches: branches.map { ($0.condition, $0.body.map { annotateChildren($0, enclosingNames: enclosingNames) }) },
                otherwise: otherwise.map { annotateChildren($0, enclosingNames: enclosingNames) }
            )
        case .loop(let target, let iterable, let filter, let body, let otherwise):
            kind = .loop(target: target, iterable: iterable, filter: filter, body: frame(body, target.names + ["loop"]), otherwise: frame(otherwise, []))
        case .assignBlock(let target, let filters, let body):
            kind = .assignBlock(target, filters: filters, body: frame(body, []))
        case .macro(let definition):
            kind = .macro(macro(definition))
        case .callBlock(let call, let caller):
            kind = .callBlock(call: call, caller: macro(caller))
        case .filterBlock(let filters, let body):
            kind = .filterBlock(filters: filters, body: frame(body, []))
        case .scope(let assignments, let body):
            kind = .scope(assignments: assignments, body: frame(body, assignments.map(\.name)))
        case .text, .output, .assign, .breakLoop, .continueLoop:
            return statement
        }
        return Statement(kind: kind, line: statement.line)
    }

    /// One frame's symbol table: for each name, whether its first use leaves it undefined at entry.
    private struct Symbols {
        let enclosingNames: Set<String>
        /// Every name used in the frame, mapped to whether it starts undefined.
        var firstUse: [String: Bool] = [:]

        var undefinedAtEntry: [String] { firstUse.filter(\.value).keys.sorted() }

        mutating func declare(_ name: String) { firstUse[name] = false }

        mutating func load(_ name: String) {
            if firstUse[name] == nil { firstUse[name] = false }
        }

        /// Jinja's `Symbols.store`, with `branch_update` folded in: inside an `if` the name
        /// resolves from the context instead.
        mutating func store(_ name: String, conditional: Bool) {
            if firstUse[name] == nil { firstUse[name] = !conditional && !enclosingNames.contains(name) }
        }

        mutating func load(_ expression: Expression?) {
            guard let expression else { return }
            for name in ScopeAnalysis.names(in: expression) { load(name) }
        }

        /// What the statement does in this frame; bodies of nested frames are not visited.
        mutating func visit(_ statement: Statement, conditional: Bool) {
            switch statement.kind {
            case .text, .breakLoop, .continueLoop:
                break
            case .output(let expression):
                load(expression)
            case .conditional(let branches, let otherwise):
                // Jinja visits `elif` tests inside the branch, but a read resolves the same anywhere.
                for branch in branches {
                    load(branch.condition)
                    for inner in branch.body { visit(inner, conditional: true) }
                }
                for inner in otherwise { visit(inner, conditional: true) }
            case .loop(_, let iterable, _, _, _):
                load(iterable)
            case .assign(let target, let value):
                load(value)
                assign(target, conditional: conditional)
            case .assignBlock(let target, _, _):
                assign(target, conditional: conditional)
            case .macro(let definition):
                store(definition.name, conditional: conditional)
            case .callBlock(let call, _):
                load(call)
            case .filterBlock(let filters, _):
                for filter in filters {
                    for argument in filter.arguments.positional { load(argument) }
                    for keyword in filter.arguments.keywords { load(keyword.value) }
                }
            case .scope(let assignments, _):
                for assignment in assignments { load(assignment.value) }
            }
        }

        private mutating func assign(_ target: AssignTarget, conditional: Bool) {
            switch target {
            case .name(let name): store(name, conditional: conditional)
            case .names(let names): for name in names { store(name, conditional: conditional) }
            case .attribute(let namespace, _): load(namespace)
            }
        }
    }

    /// Every variable an expression reads.
    static func names(in expression: Expression) -> [String] {
        var result: [String] = []
        collect(expression, into: &result)
        return result
    }

    private static func collect(_ expression: Expression, into names: inout [String]) {
        func all(_ expressions: [Expression]) { for item in expressions { collect(item, into: &names) } }
        func arguments(_ call: CallArguments) { all(call.positional + call.keywords.map(\.value)) }
        switch expression.kind {
        case .literal: break
        case .name(let name): names.append(name)
        case .list(let items), .tuple(let items), .concat(let items): all(items)
        case .dictionary(let entries): all(entries.flatMap { [$0.key, $0.value] })
        case .attribute(let object, _): collect(object, into: &names)
        case .item(let object, let key): all([object, key])
        case .slice(let object, let start, let stop, let step): all([object] + [start, stop, step].compactMap { $0 })
        case .call(let callee, let call): collect(callee, into: &names); arguments(call)
        case .filter(let value, _, let call), .test(let value, _, let call, _): collect(value, into: &names); arguments(call)
        case .unary(_, let operand), .not(let operand): collect(operand, into: &names)
        case .binary(_, let left, let right), .and(let left, let right), .or(let left, let right): all([left, right])
        case .compare(let first, let operations): all([first] + operations.map(\.operand))
        case .conditional(let condition, let then, let otherwise): all([condition, then] + [otherwise].compactMap { $0 })
        }
    }
}

extension AssignTarget {
    /// The variables the target binds (none for a namespace attribute).
    var names: [String] {
        switch self {
        case .name(let name): return [name]
        case .names(let names): return names
        case .attribute: return []
        }
    }
}
