import Foundation
import KilnChatTemplate
import Testing

/// One reference render from `scripts/make_chat_template_fixtures.py`: inputs and Python's result.
struct Fixture: Sendable, CustomTestStringConvertible {
    /// The fixture file, without `.cases.json`.
    let file: String
    /// The case name within the file.
    let name: String
    /// The template text.
    let source: String
    /// The variables passed to `render`.
    let context: [String: TemplateValue]
    /// The instant `strftime_now` sees (naive local time in Python, UTC here).
    let now: Date?
    /// Python's output, when the render succeeded.
    let expected: String?
    /// Python's failure, when it raised: kind, message, and line for syntax errors.
    let error: (kind: String, message: String, line: Int?)?

    var testDescription: String { "\(file)/\(name)" }

    /// The folder of `.jinja` templates and `.cases.json` fixtures.
    static var templatesDirectory: URL? { Bundle.module.url(forResource: "Templates", withExtension: nil) }

    /// Every case of every fixture file, in file order.
    static func loadAll() throws -> [Fixture] {
        guard let directory = templatesDirectory else { throw FixtureError("Templates resource folder missing") }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".cases.json") }
            .sorted()
        return try files.flatMap { try load(directory.appendingPathComponent($0)) }
    }

    static func load(_ url: URL) throws -> [Fixture] {
        let file = url.lastPathComponent.replacingOccurrences(of: ".cases.json", with: "")
        let document = try TemplateValue(json: String(decoding: try Data(contentsOf: url), as: UTF8.self))
        var templateSource: String?
        if let templateName = document["template"]?.stringValue {
            let templateURL = url.deletingLastPathComponent().appendingPathComponent(templateName)
            templateSource = String(decoding: try Data(contentsOf: templateURL), as: UTF8.self)
        }
        guard case .array(let cases)? = document["cases"] else { throw FixtureError("\(file): no cases") }
        return try cases.map { entry in
            guard let name = entry["name"]?.stringValue, case .object(let contextMap)? = entry["context"],
                  let source = entry["source"]?.stringValue ?? templateSource
            else { throw FixtureError("\(file): malformed case") }
            var context: [String: TemplateValue] = [:]
            for (key, value) in contextMap.entries { context[key] = value }
            var error: (String, String, Int?)?
            if let failure = entry["error"], let kind = failure["kind"]?.stringValue, let message = failure["message"]?.stringValue {
                var line: Int?
                if case .int(let number)? = failure["line"] { line = number }
                error = (kind, message, line)
            }
            return Fixture(
                file: file, name: name, source: source, context: context,
                now: try entry["now"]?.stringValue.map(parseNaiveDate),
                expected: entry["expected"]?.stringValue, error: error
            )
        }
    }

    /// `2024-09-05T14:03:07` as that wall-clock time in UTC.
    static func parseNaiveDate(_ text: String) throws -> Date {
        let numbers = text.split(whereSeparator: { "-T:".contains($0) }).compactMap { Int($0) }
        guard numbers.count == 6 else { throw FixtureError("bad date \(text)") }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = utc
        let components = DateComponents(year: numbers[0], month: numbers[1], day: numbers[2], hour: numbers[3], minute: numbers[4], second: numbers[5])
        guard let date = calendar.date(from: components) else { throw FixtureError("bad date \(text)") }
        return date
    }

    static let utc = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0) ?? .current
}

/// A fixture file that cannot be read.
struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
