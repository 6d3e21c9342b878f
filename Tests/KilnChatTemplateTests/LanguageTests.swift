import Foundation
import KilnChatTemplate
import Testing

/// Hand-written checks of the language: each states the Jinja rule it pins down.
@Suite("Template language")
struct LanguageTests {
    func render(_ source: String, _ context: [String: TemplateValue] = [:]) throws -> String {
        try ChatTemplate(source: source).render(context)
    }

    func failure(_ source: String, _ context: [String: TemplateValue] = [:]) -> ChatTemplateError? {
        do {
            _ = try render(source, context)
            return nil
        } catch {
            return error as? ChatTemplateError
        }
    }

    @Test("trim_blocks drops the newline after a block tag, not after a variable")
    func trimBlocks() throws {
        #expect(try render("{% if true %}\nA\n{% endif %}\n{{ 'B' }}\nC") == "A\nB\nC")
    }

    @Test("lstrip_blocks removes indentation before block tags only")
    func lstripBlocks() throws {
        #expect(try render("    {% for x in [1, 2] %}\n    {{ x }}\n    {% endfor %}") == "    1\n    2\n")
    }

    @Test("a minus strips every whitespace character on its side, newlines included")
    func minusStrips() throws {
        #expect(try render("a \n\t {{- 'b' -}} \n\n c") == "abc")
        #expect(try render("{%- if true -%}  x  {%- endif -%}") == "x")
    }

    @Test("loop variables and for-else")
    func loops() throws {
        let source = "{% for m in messages %}{{ loop.index }}/{{ loop.length }}:{{ m.role }}{{ ',' if not loop.last }}{% else %}none{% endfor %}"
        let messages: TemplateValue = [["role": "user"], ["role": "assistant"]]
        #expect(try render(source, ["messages": messages]) == "1/2:user,2/2:assistant")
        #expect(try render(source, ["messages": []]) == "none")
    }

    @Test("namespace carries state out of a loop; plain set does not")
    func namespaceScoping() throws {
        let source = "{% set ns = namespace(n=0) %}{% set plain = 0 %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% set plain = i %}{% endfor %}{{ ns.n }} {{ plain }}"
        #expect(try render(source) == "6 0")
    }

    @Test("macros with defaults, keyword arguments and recursion")
    func macros() throws {
        let source = """
            {%- macro show(value, quote='"') -%}
            {%- if value is mapping -%}{ {%- for k, v in value | dictsort -%}{{ k }}={{ show(v, quote=quote) }}{{ ';' if not loop.last }}{%- endfor -%} }
            {%- else -%}{{ quote }}{{ value }}{{ quote }}{%- endif -%}
            {%- endmacro -%}
            {{ show({'b': 1, 'a': {'c': 'x'}}, quote="'") }}
            """
        #expect(try render(source) == "{a={c='x'};b='1'}")
    }

    @Test("tojson keeps key order and non-ASCII text, like transformers")
    func tojson() throws {
        let tool = try TemplateValue(json: #"{"name": "météo", "parameters": {"z": 1, "a": [1.0, null, true]}}"#)
        #expect(try render("{{ t | tojson }}", ["t": tool]) == #"{"name": "météo", "parameters": {"z": 1, "a": [1.0, null, true]}}"#)
        #expect(try render("{{ t | tojson(indent=2) }}", ["t": ["k": []]]) == "{\n  \"k\": []\n}")
    }

    @Test("raise_exception surfaces the template's message and line")
    func raiseException() throws {
        let error = try #require(failure("line one\n{% if x %}\n{{ raise_exception('bad ' ~ x) }}\n{% endif %}", ["x": 7]))
        #expect(error.kind == .raised)
        #expect(error.message == "bad 7")
        #expect(error.line == 3)
    }

    @Test("syntax errors carry Jinja's message and the line")
    func syntaxErrors() throws {
        let unclosed = try #require(failure("a\n{% for x in y %}\nb"))
        #expect(unclosed.kind == .syntax)
        #expect(unclosed.line == 3)
        #expect(unclosed.message.hasPrefix("Unexpected end of template."))
        let unknownFilter = try #require(failure("{{ x | nosuchfilter }}"))
        #expect(unknownFilter.message == "No filter named 'nosuchfilter'.")
        let breakOutside = try #require(failure("{% break %}"))
        #expect(breakOutside.kind == .syntax)
    }

    @Test("undefined values print as nothing but fail when used")
    func undefinedValues() throws {
        #expect(try render("[{{ missing }}][{{ missing | default('d') }}][{{ missing is defined }}]") == "[][d][False]")
        let error = try #require(failure("{{ message.content.strip() }}", ["message": ["role": "user"]]))
        #expect(error.kind == .undefined)
        #expect(error.message == "'dict object' has no attribute 'content'")
        let call = try #require(failure("{{ nope() }}"))
        #expect(call.message == "'nope' is undefined")
    }

    @Test("strftime_now reads the injected clock")
    func injectedClock() throws {
        var template = try ChatTemplate(source: "{{ strftime_now('%d %b %Y %H:%M') }}")
        template.now = { Date(timeIntervalSince1970: 1_721_995_200) }
        template.timeZone = TimeZone(identifier: "UTC") ?? .current
        #expect(try template.render([:]) == "26 Jul 2024 12:00")
    }

    @Test("the message convenience builds what apply_chat_template passes")
    func messagesConvenience() throws {
        let template = try ChatTemplate(source: """
            {{ bos_token }}{% for m in messages %}<{{ m.role }}{{ '|' ~ m.name if m.name }}>{{ m.content }}\
            {% if m.tool_calls %}{{ m.tool_calls | tojson }}{% endif %}{% endfor %}\
            {% if add_generation_prompt %}<assistant>{% endif %}{{ extra_value }}
            """)
        let messages = [
            ChatMessage(role: "user", content: "hi"),
            ChatMessage(role: "assistant", content: "", toolCalls: [["function": ["name": "f", "arguments": ["x": 1]]]]),
            ChatMessage(role: "tool", content: "42", name: "f"),
        ]
        let text = try template.render(messages: messages, addGenerationPrompt: true, bosToken: "<s>", eosToken: nil, extra: ["extra_value": "!"])
        #expect(text == #"<s><user>hi<assistant>[{"function": {"name": "f", "arguments": {"x": 1}}}]<tool|f>42<assistant>!"#)
    }

    @Test("TemplateValue JSON parsing keeps order and distinguishes 1 from 1.0")
    func jsonParsing() throws {
        let value = try TemplateValue(json: #" {"b": 1, "a": 1.0, "s": "\u00e9\ud83d\ude00\n", "l": [true, false, null]} "#)
        guard case .object(let map) = value else { Issue.record("not an object"); return }
        #expect(map.keys == ["b", "a", "s", "l"])
        #expect(map["b"] == .int(1))
        #expect(map["a"] == .double(1))
        #expect(map["s"] == .string("é😀\n"))
        #expect(throws: ChatTemplateError.self) { try TemplateValue(json: "{\"a\": }") }
        #expect(throws: ChatTemplateError.self) { try TemplateValue(json: String(repeating: "[", count: 10_000)) }
    }

    @Test("hostile input fails cleanly instead of crashing")
    func hostileInput() throws {
        let sources = [
            "{{", "{%", "{#", "{{ }}", "{% %}", "{{ ((((((( }}", "{{ [1, 2 }}", "{{ 'abc }}", "{% for %}", "{% endfor %}",
            "{{ 1 / 0 }}", "{{ 9223372036854775807 + 1 }}", "{{ 2 ** 100 }}", "{{ range(10000000) | length }}",
            "{{ 'x' * 1000000000 }}", "{{ 'x' | center(10000000000) }}", "{{ 'x'.zfill(10000000000) }}", "{{ x | batch(10000000000, 0) | list }}",
            "{{ x | tojson(indent=10000000000) }}", "{{ 'a\nb' | indent(10000000000) }}", "{{ '%10000000000s' % 'x' }}", "{{ x[::0] }}", "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
            "{{ " + String(repeating: "(", count: 5_000) + " }}", "{{ " + String(repeating: "-", count: 5_000) + "1 }}",
            "{% set a, b = [1] %}", String(repeating: "{% if true %}", count: 1_000), "{{ {}.x.y }}", "{{ none + 1 }}", "{{ [1] < 'a' }}", "{{ 'a' in 1 }}",
        ]
        for source in sources {
            #expect(throws: ChatTemplateError.self, "\(source.prefix(40))") {
                _ = try ChatTemplate(source: source).render(["x": [1, 2]])
            }
        }
    }

    @Test("real templates compile")
    func realTemplatesCompile() throws {
        let directory = try #require(Fixture.templatesDirectory)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".jinja") }
        #expect(names.count >= 8)
        for name in names {
            let source = String(decoding: try Data(contentsOf: directory.appendingPathComponent(name)), as: UTF8.self)
            _ = try ChatTemplate(source: source)
        }
    }
}
