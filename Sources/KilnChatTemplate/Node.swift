/// An expression of the template language, with the line it starts on for error messages.
struct Expression: Sendable {
    /// The shapes of expression Jinja's parser produces (`jinja2.nodes`).
    indirect enum Kind: Sendable {
        /// A constant: `none`, `true`, `42`, `1.5`, `'text'`.
        case literal(Literal)
        /// A variable reference.
        case name(String)
        /// `[a, b]`
        case list([Expression])
        /// `(a, b)` or a bare `a, b`.
        case tuple([Expression])
        /// `{k: v}`, in source order.
        case dictionary([(key: Expression, value: Expression)])
        /// `object.name` (attribute first, then item, as Jinja's `getattr`).
        case attribute(Expression, String)
        /// `object[key]` (item first, then attribute, as Jinja's `getitem`).
        case item(Expression, Expression)
        /// `object[start:stop:step]`; absent bounds are `nil`.
        case slice(Expression, start: Expression?, stop: Expression?, step: Expression?)
        /// `callee(arguments)`
        case call(Expression, CallArguments)
        /// `value | name(arguments)`
        case filter(Expression, name: String, CallArguments)
        /// `value is [not] name arguments`
        case test(Expression, name: String, CallArguments, negated: Bool)
        /// `-x`, `+x`
        case unary(UnaryOperator, Expression)
        /// Arithmetic: `+ - * / // % **`.
        case binary(BinaryOperator, Expression, Expression)
        /// `a ~ b ~ c`: string concatenation of every operand's `str()`.
        case concat([Expression])
        /// `a < b <= c`, Python's chained comparison.
        case compare(Expression, [(op: CompareOperator, operand: Expression)])
        /// `a and b` (returns an operand, as Python).
        case and(Expression, Expression)
        /// `a or b` (returns an operand, as Python).
        case or(Expression, Expression)
        /// `not a`
        case not(Expression)
        /// `then if condition else otherwise`; no `else` yields undefined.
        case conditional(condition: Expression, then: Expression, otherwise: Expression?)
    }

    /// The expression.
    let kind: Kind
    /// The 1-based line it starts on.
    let line: Int
}

/// A constant written in the template.
enum Literal: Sendable {
    /// `none` / `None`
    case none
    /// `true` / `false` / `True` / `False`
    case bool(Bool)
    /// An integer literal.
    case int(Int)
    /// A float literal.
    case double(Double)
    /// A string literal (adjacent literals already joined).
    case string(String)
}

/// Unary arithmetic operators.
enum UnaryOperator: Sendable {
    /// `-x`
    case negate
    /// `+x`
    case plus
}

/// Binary arithmetic operators.
enum BinaryOperator: String, Sendable {
    /// `+`
    case add = "+"
    /// `-`
    case subtract = "-"
    /// `*`
    case multiply = "*"
    /// `/` (true division, always a float)
    case divide = "/"
    /// `//` (floor division)
    case floorDivide = "//"
    /// `%` (Python modulo: the sign follows the divisor)
    case modulo = "%"
    /// `**`
    case power = "**"
}

/// Comparison operators, including membership.
enum CompareOperator: String, Sendable {
    /// `==`
    case equal = "=="
    /// `!=`
    case notEqual = "!="
    /// `<`
    case less = "<"
    /// `<=`
    case lessOrEqual = "<="
    /// `>`
    case greater = ">"
    /// `>=`
    case greaterOrEqual = ">="
    /// `in`
    case contains = "in"
    /// `not in`
    case notContains = "not in"
}

/// The arguments of a call, filter or test: positional then keyword, in source order.
struct CallArguments: Sendable {
    /// Positional arguments.
    var positional: [Expression] = []
    /// Keyword arguments, `name=value`.
    var keywords: [(name: String, value: Expression)] = []
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
    let body: [Statement]
}

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
        case loop(target: AssignTarget, iterable: Expression, filter: Expression?, body: [Statement], otherwise: [Statement])
        /// `{% set target = value %}`
        case assign(AssignTarget, Expression)
        /// `{% set name | filters %}body{% endset %}`: the rendered body, filtered.
        case assignBlock(AssignTarget, filters: [(name: String, arguments: CallArguments)], body: [Statement])
        /// `{% macro name(parameters) %}body{% endmacro %}`
        case macro(MacroDefinition)
        /// `{% call(parameters) callee(arguments) %}body{% endcall %}`: the body is `caller`.
        case callBlock(call: Expression, caller: MacroDefinition)
        /// `{% filter name(arguments) | ... %}body{% endfilter %}`
        case filterBlock(filters: [(name: String, arguments: CallArguments)], body: [Statement])
        /// `{% with a = 1 %}body{% endwith %}`: a scope with extra variables.
        case scope(assignments: [(name: String, value: Expression)], body: [Statement])
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
