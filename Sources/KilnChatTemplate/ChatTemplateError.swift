/// Why a template failed to compile or render, with the template line where Kiln knows it.
public struct ChatTemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The family of failure, matching the Python exception a reference render raises.
    public enum Kind: String, Sendable, Equatable {
        /// The source is not valid template syntax (`TemplateSyntaxError`).
        case syntax
        /// An undefined value was used where a value is required (`UndefinedError`).
        case undefined
        /// The template called `raise_exception(message)`; `message` is the template's text.
        case raised
        /// Any other failure while rendering: values of the wrong type or range (Python's
        /// `TypeError`, `ValueError`...), or a Jinja runtime error such as assigning an
        /// attribute of something that is not a namespace.
        case type
        /// A feature this engine does not implement.
        case unsupported
        /// Bad input JSON handed to `TemplateValue(json:)`.
        case json
    }

    /// The family of failure.
    public let kind: Kind
    /// The message, worded like Jinja's where Jinja has one.
    public let message: String
    /// The 1-based template line, when known.
    public internal(set) var line: Int?

    /// An error of `kind` with `message`, at `line` when known.
    public init(_ kind: Kind, _ message: String, line: Int? = nil) {
        self.kind = kind
        self.message = message
        self.line = line
    }

    /// `message`, prefixed with the line when known.
    public var description: String {
        if let line { return "line \(line): \(message)" }
        return message
    }

    /// The same error located at `line`, unless it already has a line.
    func located(at line: Int) -> ChatTemplateError {
        var copy = self
        if copy.line == nil { copy.line = line }
        return copy
    }
}
