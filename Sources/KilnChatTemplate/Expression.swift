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
