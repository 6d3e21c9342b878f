/// A statement of the template language, with its line for error messages.
struct Statement: Sendable {
    /// The shapes of statement Kiln implements.
    indirect enum Kind: Sendable {
        /// Literal text.
        case text(String)
        /// `{{ expression }}`
        case output(Expression)
        /// `{% if %}...{% elif %}...{% else %}...{% endif %}`: the first true branch runs.
        case conditional(branches: [(condition: Expression, body: [Statement])], otherwise: [Statement])
        /// `{% for target in iterable if filter %}body{% else %}empty{% endfor %}`
        case loop(target: AssignTarget, iterable: Expression, filter: Expression?, body: Frame, otherwise: Frame)
        /// `{% set target = value %}`
        case assign(AssignTarget, Expression)
        /// `{% set name | filters %}body{% endset %}`: the rendered body, filtered.
        case assignBlock(AssignTarget, filters: [(name: String, arguments: CallArguments)], body: Frame)
        /// `{% macro name(parameters) %}body{% endmacro %}`
        case macro(MacroDefinition)
        /// `{% call(parameters) callee(arguments) %}body{% endcall %}`: the body is `caller`.
        case callBlock(call: Expression, caller: MacroDefinition)
        /// `{% filter name(arguments) | ... %}body{% endfilter %}`
        case filterBlock(filters: [(name: String, arguments: CallArguments)], body: Frame)
        /// `{% with a = 1 %}body{% endwith %}`: a scope with extra variables.
        case scope(assignments: [(name: String, value: Expression)], body: Frame)
        /// `{% break %}`
        case breakLoop
        /// `{% continue %}`
        case continueLoop
    }

    /// The statement.
    let kind: Kind
    /// The 1-based line it starts on.
    let line: Int
}

/// The target of `for` or `set`: a name, or names to unpack.
enum AssignTarget: Sendable {
    /// One variable.
    case name(String)
    /// `a, b` unpacking a sequence of the same length.
    case names([String])
    /// `namespace.attribute` (only `set` allows this).
    case attribute(namespace: String, attribute: String)
}

/// A macro parameter and its default, evaluated at call time when the caller omits it.
struct MacroParameter: Sendable {
    /// The parameter name.
    let name: String
    /// The default value's expression, if any.
    let defaultValue: Expression?
}

/// A macro's definition; `caller` blocks use the same shape with an empty name.
struct MacroDefinition: Sendable {
    /// The macro's name (for error messages).
    let name: String
    /// Its parameters in order.
    let parameters: [MacroParameter]
    /// The statements its call renders.
    let body: Frame
}

/// The statements of one Jinja frame (the template, a loop body, a macro...), which runs in a
/// scope of its own.
struct Frame: Sendable {
    /// The statements.
    var body: [Statement]
    /// Names Jinja starts as undefined in this frame, hiding same-named outer or context
    /// variables: those first assigned here unconditionally that no enclosing frame mentions
    /// (filled in by `ScopeAnalysis`).
    var undefinedAtEntry: [String] = []
}
