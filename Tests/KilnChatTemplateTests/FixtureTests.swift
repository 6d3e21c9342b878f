import Foundation
import KilnChatTemplate
import Testing

/// Every reference render Python's jinja2 produced must come out byte for byte the same.
@Suite("Chat template fixtures")
struct FixtureTests {
    static let fixtures: [Fixture] = (try? Fixture.loadAll()) ?? []

    @Test("fixtures load")
    func fixturesLoad() throws {
        let all = try Fixture.loadAll()
        #expect(all.count > 200)
        let files = Set(all.map(\.file))
        for name in ["smollm2", "qwen2", "qwen2.5", "qwen3", "gemma", "gemma3", "gemma4", "llama3.1", "llama3.2", "language"] {
            #expect(files.contains(name), "missing fixture file \(name)")
        }
    }

    @Test("matches Python's jinja2", arguments: fixtures)
    func matchesReference(_ fixture: Fixture) throws {
        let result: Result<String, any Error> = Result {
            var template = try ChatTemplate(source: fixture.source)
            if let now = fixture.now {
                template.now = { now }
                template.timeZone = Fixture.utc
            }
            return try template.render(fixture.context)
        }
        switch (result, fixture.expected, fixture.error) {
        case (.success(let text), let expected?, _):
            #expect(text == expected)
        case (.failure(let error), _, let reference?):
            let failure = try #require(error as? ChatTemplateError, "not a ChatTemplateError: \(error)")
            #expect(failure.kind.rawValue == reference.kind)
            #expect(failure.message == reference.message)
            if let line = reference.line { #expect(failure.line == line, "\(failure)") }
        case (.success(let text), nil, let reference?):
            Issue.record("rendered \(text.debugDescription) but Python raised \(reference.kind): \(reference.message)")
        case (.failure(let error), _, nil):
            Issue.record("threw \(error) but Python rendered \(fixture.expected?.debugDescription ?? "")")
        case (.success, nil, nil):
            Issue.record("the fixture has neither an expected text nor an error")
        }
    }
}
