import Foundation

/// A chat template compiled once and rendered per request, matching Python's Jinja2 as Hugging
/// Face transformers configures it (`trim_blocks`, `lstrip_blocks`, `loopcontrols`,
/// `raise_exception`, `strftime_now`, an unescaped `tojson`).
public struct ChatTemplate: Sendable {
    /// The template text as given.
    public let source: String
    /// The clock `strftime_now` reads; inject a fixed instant for reproducible output.
    public var now: @Sendable () -> Date = { Date() }
    /// The zone `strftime_now` formats in (Python formats naive local time).
    public var timeZone: TimeZone = .current
    private let program: Frame

    /// Parses `source`; throws `ChatTemplateError` (kind `.syntax`, with a line) if it is malformed.
    public init(source: String) throws {
        self.source = source
        program = try Parser.parse(try Lexer.tokenize(source))
    }

    /// The text of the template with `context` as its variables (`messages`,
    /// `add_generation_prompt`, `bos_token`...). Throws `ChatTemplateError`, for instance kind
    /// `.raised` with the template's message when it calls `raise_exception`.
    public func render(_ context: [String: TemplateValue]) throws -> String {
        try Interpreter(context: context, now: now(), timeZone: timeZone).render(program)
    }
}
