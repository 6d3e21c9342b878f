#!/usr/bin/env python3
"""Writes the reference outputs that KilnChatTemplate must reproduce byte for byte.

Python's jinja2 is the reference, configured the way Hugging Face transformers configures it in
`apply_chat_template` (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
`raise_exception`, `strftime_now`, and a `tojson` filter without HTML escaping).

For every `<name>.jinja` under Tests/KilnChatTemplateTests/Templates that has conversations below,
it writes `<name>.cases.json`: the inputs of each case and either the expected text or the error.
`language.cases.json` holds small inline templates that exercise one language feature each.

Usage:
    python3 scripts/make_chat_template_fixtures.py            # render fixtures
    python3 scripts/make_chat_template_fixtures.py --extract  # first copy templates out of GGUF files

Reference: jinja2 3.1.6 on CPython 3.11.7 (the script refuses another jinja2 unless --any-jinja).
"""

import argparse
import datetime
import json
import pathlib
import sys

import jinja2
import jinja2.ext
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

JINJA2_VERSION = "3.1.6"
ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "Tests" / "KilnChatTemplateTests" / "Templates"

# Templates stored in GGUF metadata (`tokenizer.chat_template`), copied verbatim by --extract.
# The other .jinja files come from the models' tokenizer_config.json `chat_template` field:
#   llama3.1.jinja  meta-llama/Llama-3.1-8B-Instruct
#   llama3.2.jinja  meta-llama/Llama-3.2-3B-Instruct
#   gemma3.jinja    google/gemma-3-1b-it (same text in the 4b/12b/27b instruct models)
#   gemma.jinja     google/gemma-7b-it and gemma-2b-it (Gemma 1; Gemma 2 uses the same text)
#   qwen3.jinja     Qwen/Qwen3-0.6B (as llama.cpp keeps it in models/templates), for coverage
GGUF_TEMPLATES = {
    "smollm2": "/work/models/smollm2-135m-instruct-q4_1.gguf",
    "qwen2.5": "/work/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    "qwen2": "/work/shared/data/tokenizers/ggml-vocab-qwen2.gguf",
    "gemma4": "/work/shared/data/tokenizers/ggml-vocab-gemma-4.gguf",
}

# The clock that `strftime_now` reads in every case that names "now" (naive local time, as
# transformers' `datetime.now()`); the Swift tests inject the same instant in UTC.
FIXED_NOW = "2024-09-05T14:03:07"


def extract_gguf_templates():
    import gguf

    for name, path in GGUF_TEMPLATES.items():
        reader = gguf.GGUFReader(path)
        text = reader.fields["tokenizer.chat_template"].contents()
        (TEMPLATES / f"{name}.jinja").write_text(text, encoding="utf-8", newline="")
        print(f"extracted {name}.jinja ({len(text)} characters) from {path}")


class AssistantTracker(jinja2.ext.Extension):
    """transformers' `{% generation %}` tag; outside assistant-mask tracking it renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()


def make_environment(now):
    """The environment of transformers' `_compile_jinja_template`."""

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return now.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def error_kind(error):
    if isinstance(error, jinja2.exceptions.TemplateSyntaxError):
        return "syntax"
    if isinstance(error, jinja2.exceptions.UndefinedError):
        return "undefined"
    if type(error) is jinja2.exceptions.TemplateError:  # what raise_exception raises
        return "raised"
    return "type"  # TypeError, ValueError, and Jinja's runtime errors such as a bad namespace assignment


def render_case(source, case):
    now = datetime.datetime.fromisoformat(case.get("now", FIXED_NOW))
    env = make_environment(now)
    try:
        text = env.from_string(source).render(**case["context"])
    except Exception as error:  # the fixture records the failure the Swift side must reproduce
        kind = error_kind(error)
        result = {"kind": kind, "message": str(error)}
        if kind == "syntax":
            result["line"] = error.lineno
        return {"error": result}
    return {"expected": text}


# ---------------------------------------------------------------------------------------------
# Conversations

SYSTEM = {"role": "system", "content": "You are a concise assistant. Answer in one sentence."}
USER = {"role": "user", "content": "What is the capital of France?"}
ASSISTANT = {"role": "assistant", "content": "The capital of France is Paris."}
USER2 = {"role": "user", "content": "And of Italy?"}
UNICODE_USER = {
    "role": "user",
    "content": "Héllo, 世界! 🚀 ½ — \"quoted\" and 'single' \\ back\nnew line\ttab \u00a0nbsp",
}
UNICODE_ASSISTANT = {"role": "assistant", "content": "Привет 👋🏽 — ça va? 🇫🇷"}
PADDED_USER = {"role": "user", "content": "  \n  padded question?  \n\n"}
PADDED_SYSTEM = {"role": "system", "content": "\n  Be brief.  "}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and country, e.g. Paris, France"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"},
            },
            "required": ["location"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web — fast ✓",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for"},
                "max_results": {"type": "integer", "description": "How many results", "nullable": True},
                "threshold": {"type": "number", "description": "Minimum score", "default": 0.5},
                "filters": {
                    "type": "object",
                    "description": "Optional filters",
                    "properties": {"site": {"type": "string"}, "recent": {"type": "boolean"}},
                    "required": ["site"],
                },
                "tags": {"type": "array", "description": "Tags", "items": {"type": "string"}},
            },
            "required": ["query"],
        },
        "response": {"description": "Search results", "type": "object"},
    },
}
WEATHER_CALL = {
    "role": "assistant",
    "content": "",
    "tool_calls": [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_current_weather", "arguments": {"location": "Paris, France", "unit": "celsius"}},
        }
    ],
}
WEATHER_RESULT = {"role": "tool", "name": "get_current_weather", "content": "{\"temperature\": 22, \"condition\": \"sunny\"}"}
WEATHER_ANSWER = {"role": "assistant", "content": "It is 22 °C and sunny in Paris."}
WEATHER_QUESTION = {"role": "user", "content": "What's the weather like in Paris?"}


def chat(messages, add_generation_prompt=True, **extra):
    context = {"messages": messages, "add_generation_prompt": add_generation_prompt}
    context.update(extra)
    return context


def common_cases(bos, eos, system=True):
    tokens = {"bos_token": bos, "eos_token": eos}
    cases = [
        ("single_user", chat([USER], **tokens)),
        ("single_user_no_generation_prompt", chat([USER], False, **tokens)),
        ("multi_turn_no_system", chat([USER, ASSISTANT, USER2], **tokens)),
        ("ends_with_assistant", chat([USER, ASSISTANT], False, **tokens)),
        ("unicode", chat([UNICODE_USER, UNICODE_ASSISTANT, USER2], **tokens)),
        ("padded_content", chat([PADDED_USER], **tokens)),
        ("no_special_tokens", chat([USER, ASSISTANT, USER2])),
    ]
    if system:
        cases += [
            ("system_user", chat([SYSTEM, USER], **tokens)),
            ("system_multi_turn", chat([SYSTEM, USER, ASSISTANT, USER2], **tokens)),
            ("padded_system", chat([PADDED_SYSTEM, PADDED_USER], False, **tokens)),
        ]
    return cases


def template_cases():
    cases = {}
    cases["smollm2"] = common_cases("<|im_start|>", "<|im_end|>")
    cases["qwen2"] = common_cases("", "<|im_end|>")
    qwen = common_cases("", "<|im_end|>")
    qwen += [
        ("tools_default_system", chat([WEATHER_QUESTION], tools=[WEATHER_TOOL, SEARCH_TOOL], eos_token="<|im_end|>")),
        ("tools_with_system", chat([SYSTEM, WEATHER_QUESTION], tools=[WEATHER_TOOL])),
        ("tools_none", chat([USER], tools=None)),
        (
            "tool_call_round_trip",
            chat([SYSTEM, WEATHER_QUESTION, WEATHER_CALL, WEATHER_RESULT, WEATHER_ANSWER], False, tools=[WEATHER_TOOL]),
        ),
        (
            "parallel_tool_calls",
            chat(
                [
                    WEATHER_QUESTION,
                    {
                        "role": "assistant",
                        "content": "Let me check both.",
                        "tool_calls": [
                            {"type": "function", "function": {"name": "get_current_weather", "arguments": {"location": "Paris"}}},
                            {"name": "search", "arguments": "{\"query\": \"Rome weather\"}"},
                        ],
                    },
                    {"role": "tool", "content": "22"},
                    {"role": "tool", "content": "sunny in Rome"},
                ],
                tools=[WEATHER_TOOL, SEARCH_TOOL],
            ),
        ),
    ]
    cases["qwen2.5"] = qwen

    thinking_answer = {"role": "assistant", "content": "<think>\nThe user wants a capital.\n</think>\n\nParis."}
    qwen3 = common_cases("", "<|im_end|>")
    qwen3 += [
        ("enable_thinking_false", chat([USER], enable_thinking=False)),
        ("enable_thinking_true", chat([USER], enable_thinking=True)),
        ("thinking_in_history", chat([SYSTEM, USER, thinking_answer, USER2])),
        ("thinking_last_turn", chat([USER, thinking_answer], False)),
        (
            "reasoning_content_field",
            chat([USER, {"role": "assistant", "content": "Paris.", "reasoning_content": "\nEasy one.\n"}], False),
        ),
        ("tools", chat([SYSTEM, WEATHER_QUESTION], tools=[WEATHER_TOOL, SEARCH_TOOL])),
        (
            "multi_step_tools",
            chat(
                [
                    WEATHER_QUESTION,
                    {"role": "assistant", "content": "<think>\nNeed weather.\n</think>\n\n", "tool_calls": WEATHER_CALL["tool_calls"]},
                    WEATHER_RESULT,
                    {"role": "user", "content": "<tool_response>\nextra\n</tool_response>"},
                    {
                        "role": "assistant",
                        "content": "<think>Both done.</think>It is sunny.",
                        "tool_calls": [{"name": "search", "arguments": "{\"query\": \"uv index\"}"}, {"function": {"name": "search", "arguments": {"query": "wind"}}}],
                    },
                ],
                tools=[WEATHER_TOOL],
            ),
        ),
    ]
    cases["qwen3"] = qwen3

    gemma_tokens = {"bos_token": "<bos>", "eos_token": "<eos>"}
    gemma = common_cases("<bos>", "<eos>", system=False)
    gemma += [
        ("system_not_supported", chat([SYSTEM, USER], **gemma_tokens)),
        ("roles_must_alternate", chat([USER, USER2], **gemma_tokens)),
        ("assistant_first", chat([ASSISTANT], **gemma_tokens)),
    ]
    cases["gemma"] = gemma

    gemma3 = common_cases("<bos>", "<eos>")
    gemma3 += [
        ("roles_must_alternate", chat([SYSTEM, USER, USER2], **gemma_tokens)),
        (
            "content_parts",
            chat(
                [
                    {"role": "system", "content": [{"type": "text", "text": "Describe images briefly."}]},
                    {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "  What is this?  "}]},
                    {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]},
                    {"role": "user", "content": [{"type": "text", "text": "And this?"}, {"type": "image", "url": "x.png"}]},
                ],
                **gemma_tokens,
            ),
        ),
        ("invalid_content", chat([{"role": "user", "content": 42}], **gemma_tokens)),
    ]
    cases["gemma3"] = gemma3

    llama_tokens = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
    builtin_call = {
        "role": "assistant",
        "tool_calls": [{"type": "function", "function": {"name": "brave_search", "arguments": {"query": "weather in Menlo Park"}}}],
    }
    llama_common = common_cases("<|begin_of_text|>", "<|eot_id|>")
    llama_tools = [
        ("date_string", chat([SYSTEM, USER], date_string="01 Jan 2025", **llama_tokens)),
        ("tools_in_user_message", chat([SYSTEM, WEATHER_QUESTION], tools=[WEATHER_TOOL], **llama_tokens)),
        (
            "tools_in_system_message",
            chat([WEATHER_QUESTION], tools=[WEATHER_TOOL, SEARCH_TOOL], tools_in_user_message=False, **llama_tokens),
        ),
        ("custom_tools", chat([WEATHER_QUESTION], custom_tools=[SEARCH_TOOL], **llama_tokens)),
        (
            "tool_call_round_trip",
            chat([WEATHER_QUESTION, WEATHER_CALL, WEATHER_RESULT, WEATHER_ANSWER, USER2], tools=[WEATHER_TOOL], **llama_tokens),
        ),
        (
            "tool_result_mapping",
            chat(
                [WEATHER_QUESTION, WEATHER_CALL, {"role": "ipython", "content": {"temperature": 22, "ok": True, "rain": None, "wind": 3.5}}],
                tools=[WEATHER_TOOL],
                tools_in_user_message=False,
                **llama_tokens,
            ),
        ),
        ("tool_result_number", chat([WEATHER_QUESTION, WEATHER_CALL, {"role": "tool", "content": 22}], **llama_tokens)),
        (
            "too_many_tool_calls",
            chat(
                [WEATHER_QUESTION, {"role": "assistant", "tool_calls": WEATHER_CALL["tool_calls"] * 2}],
                **llama_tokens,
            ),
        ),
        ("tools_without_user_message", chat([SYSTEM], tools=[WEATHER_TOOL], **llama_tokens)),
    ]
    cases["llama3.2"] = llama_common + llama_tools
    cases["llama3.1"] = llama_common + llama_tools + [
        (
            "builtin_tools",
            chat([SYSTEM, USER], builtin_tools=["brave_search", "code_interpreter", "wolfram_alpha"], **llama_tokens),
        ),
        (
            "builtin_tool_call",
            chat(
                [WEATHER_QUESTION, builtin_call, {"role": "ipython", "content": "{\"result\": \"sunny\"}"}],
                builtin_tools=["brave_search", "wolfram_alpha"],
                **llama_tokens,
            ),
        ),
        (
            "builtin_tools_with_custom_call",
            chat(
                [WEATHER_QUESTION, WEATHER_CALL],
                False,
                builtin_tools=["brave_search"],
                tools=[WEATHER_TOOL],
                **llama_tokens,
            ),
        ),
    ]

    gemma4_tokens = {"bos_token": "<bos>", "eos_token": "<eos>"}
    gemma4 = common_cases("<bos>", "<eos>")
    gemma4 += [
        ("developer_role", chat([{"role": "developer", "content": "  Be terse.  "}, USER], **gemma4_tokens)),
        ("enable_thinking", chat([SYSTEM, USER], enable_thinking=True, **gemma4_tokens)),
        ("enable_thinking_false", chat([USER], enable_thinking=False, **gemma4_tokens)),
        ("tools", chat([WEATHER_QUESTION], tools=[WEATHER_TOOL, SEARCH_TOOL], **gemma4_tokens)),
        ("tools_thinking_system", chat([SYSTEM, WEATHER_QUESTION], tools=[WEATHER_TOOL], enable_thinking=True, **gemma4_tokens)),
        (
            "strip_thinking",
            chat(
                [
                    USER,
                    {"role": "assistant", "content": "<|channel>thought\nThe user asks about France.<channel|>Paris."},
                    USER2,
                ],
                **gemma4_tokens,
            ),
        ),
        (
            "tool_calls_and_responses",
            chat(
                [
                    WEATHER_QUESTION,
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "function": {
                                    "name": "get_current_weather",
                                    "arguments": {"location": "Paris", "days": 3, "metric": True, "extra": None, "tags": ["a", 1.5], "nested": {"z": 1, "a": "b"}},
                                }
                            },
                            {"function": {"name": "search", "arguments": "{\"query\": \"x\"}"}},
                        ],
                    },
                    {
                        "role": "tool",
                        "tool_responses": [
                            {"name": "get_current_weather", "response": {"temperature": 22, "sky": "clear"}},
                            {"name": "search", "response": "no results"},
                            {"response": [1, 2]},
                        ],
                    },
                ],
                tools=[WEATHER_TOOL],
                **gemma4_tokens,
            ),
        ),
        (
            "tool_response_then_answer",
            chat(
                [
                    WEATHER_QUESTION,
                    {"role": "assistant", "tool_calls": [{"function": {"name": "get_current_weather", "arguments": {"location": "Paris"}}}]},
                    {"role": "tool", "tool_responses": [{"name": "get_current_weather", "response": {"temperature": 22}}], "content": "Done."},
                ],
                **gemma4_tokens,
            ),
        ),
        (
            "multimodal_parts",
            chat(
                [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": " Compare: "},
                            {"type": "image"},
                            {"type": "audio"},
                            {"type": "video"},
                        ],
                    },
                    {"role": "assistant", "content": [{"type": "text", "text": "<|channel>hmm<channel|>They differ."}]},
                ],
                False,
                **gemma4_tokens,
            ),
        ),
    ]
    cases["gemma4"] = gemma4
    return cases


# ---------------------------------------------------------------------------------------------
# Language snippets: (name, source, context)

LANGUAGE = [
    # Whitespace control, trim_blocks and lstrip_blocks.
    ("trim_blocks", "{% if true %}\nyes\n{% endif %}\nafter", {}),
    ("lstrip_blocks", "  {% if true %}\n  body\n  {% endif %}\nend", {}),
    ("lstrip_not_variables", "  {{ 'x' }}\n  {% if true %}y{% endif %}", {}),
    ("minus_left", "a   \n  {%- if true %}b{% endif %}", {}),
    ("minus_right", "{% if true -%}   \n\n  b{% endif %}", {}),
    ("minus_variable", "a  {{- 'b' -}}  \n c", {}),
    ("plus_disables_lstrip", "  {%+ if true %}x{% endif %}", {}),
    ("plus_disables_trim", "{% if true +%}\nx{% endif %}", {}),
    ("comment_trim", "a\n  {# note #}\nb\n{#- strip -#}  \nc", {}),
    ("lstrip_after_text", "x  {% if true %}y{% endif %}", {}),
    ("trailing_newline_dropped", "line\n", {}),
    ("crlf_normalised", "a\r\nb\rc", {}),
    ("raw_block", "{% raw %}{{ not parsed }} {% if %}{% endraw %}!", {}),
    ("whitespace_only_lines", "{% for i in [1, 2] %}\n    {{ i }}\n{% endfor %}", {}),
    # Output of values, like Python's str().
    ("print_values", "{{ none }}|{{ true }}|{{ False }}|{{ 3 }}|{{ 2.50 }}|{{ [1, 'a', none, true] }}|{{ {'k': 'v', 'n': 1.0} }}|{{ undefined_name }}|", {}),
    ("print_floats", "{{ 1e16 }} {{ 1e15 }} {{ 1.5e-5 }} {{ 0.1 + 0.2 }} {{ 1e100 }} {{ 123456789.123 }} {{ 0.0001 }} {{ -0.0 }}", {}),
    ("print_string_repr", "{{ ['it\\'s', \"q\\\"\", 'tab\\t', 'nl\\n', 'back\\\\', 'é'] }}", {}),
    ("string_escapes", "{{ 'a\\nb\\tc\\\\d\\'e\\x41\\u00e9\\U0001F600\\q\\101' }}|{{ \"it's\" }}", {}),
    ("adjacent_strings", "{{ 'a' \"b\" 'c' }}", {}),
    # Expressions.
    ("arithmetic", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2 ** 3 ** 2 }} {{ 1.5 + 1 }} {{ -3 }} {{ - -3 }} {{ 7.5 // 2 }} {{ 7.5 % 2 }}", {}),
    ("string_ops", "{{ 'ab' * 3 }} {{ 'a' ~ 1 ~ none ~ true }} {{ 'x' + 'y' }} {{ [1] + [2, 3] }} {{ 3 * 'z' }}", {}),
    ("comparisons", "{{ 1 < 2 }} {{ 2 <= 2 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 'a' == 'a' }} {{ [1, 2] == [1, 2] }} {{ 1 != 2 }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ none == none }} {{ 1 == '1' }} {{ true == 1 }}", {}),
    ("membership", "{{ 'a' in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'cat' }} {{ not 'a' in 'cat' }} {{ 'x' in [] }}", {}),
    ("logic_values", "{{ 0 or 'b' }} {{ 'a' and 'b' }} {{ '' and 'b' }} {{ none or [] }} {{ not [] }} {{ not 1 }} {{ 1 and 0 or 5 }}", {}),
    ("conditional_expr", "{{ 'y' if true else 'n' }} {{ 'y' if false else 'n' }} [{{ 'y' if false }}] {{ 'a' if 0 else 'b' if 1 else 'c' }}", {}),
    ("subscripts", "{{ x[0] }} {{ x[-1] }} {{ x[1:] }} {{ x[:2] }} {{ x[::-1] }} {{ x[::2] }} {{ x[-2:] }} {{ s[1:3] }} {{ s[::-1] }} {{ s[-1] }} {{ d['a'] }} {{ d.a }} {{ x[10] }}|{{ d.missing }}|{{ x[5:] }}", {"x": [1, 2, 3, 4], "s": "héllo🚀", "d": {"a": 1}}),
    ("slice_steps", "{{ x[4:1:-1] }} {{ x[-1:-4:-2] }} {{ x[1:-1] }} {{ x[::-3] }} {{ x[:0] }}", {"x": [0, 1, 2, 3, 4, 5]}),
    ("literals", "{{ [1, [2, 3], {'a': (4, 5)}] | tojson }} {{ (1,) | tojson }} {{ () | tojson }} {{ {'b': 1, 'a': 2} | tojson }}", {}),
    ("attribute_then_item", "{{ m.items is callable }}|{{ m['items'] }}|{{ m.get('items') }}|{{ m.keys() | list }}", {"m": {"items": 5}}),
    ("unicode_length", "{{ s | length }} {{ s[2] }} {{ s | upper }} {{ s | reverse }}", {"s": "ab🚀é\u0301ß"}),
    ("multiline_tags", "{{\n  'a'\n  ~ 'b'\n}}{%\n  if true\n%}c{% endif %}", {}),
    ("trailing_commas", "{{ [1, 2,] }}{{ {'a': 1,} }}{{ (1, 2,) }}", {}),
    ("test_argument_rules", "{{ 'y' if x is defined else 'n' }}{{ x is defined and x }}{{ 1 is number or 0 }}", {"x": 5}),
    ("none_attribute", "[{{ none.x }}][{{ (1).nope is defined }}][{{ 'ab'.nope }}]", {}),
    ("percent_format", "{{ '%s is %d years (%.1f%%) %r' % ('Ann', 30, 12.345, 'x') }}|{{ '%(a)s-%(b)05d' % {'a': 'k', 'b': 42} }}|{{ '%-5s|%5s' | format('ab', 'cd') }}|{{ '%x %o %e' % (255, 8, 12345.678) }}", {}),
    ("undefined_in_filters", "[{{ missing | trim }}][{{ missing | upper }}][{{ missing | length }}][{{ missing | list }}][{{ missing | join(',') }}][{{ missing | first }}][{{ missing | string }}][{{ missing ~ 'x' }}][{{ missing is iterable }}][{{ missing is sequence }}]", {}),
    ("none_values", "{{ none | default('x') }}|{{ none | string }}|{{ none ~ '' }}|{{ [none] | tojson }}|{{ none is none }}|{{ none is defined }}|{{ none == none }}", {}),
    ("sort_by_attribute", "{{ users | sort(attribute='age') | map(attribute='name') | join(',') }}|{{ users | sort(attribute='name', reverse=true) | map(attribute='name') | list }}|{{ users | map(attribute='name') | sort | first }}|{{ users | max(attribute='age') }}", {"users": [{"name": "bo", "age": 40}, {"name": "Al", "age": 20}, {"name": "cy", "age": 30}]}),
    ("nested_data_access", "{{ m.tool_calls[0].function.arguments.city }}|{{ m['tool_calls'][0]['function']['name'] | upper }}|{{ m.tool_calls | length }}|{{ m.tool_calls[-1].function.arguments | tojson }}|{{ m.tool_calls.0.function.name }}", {"m": {"tool_calls": [{"function": {"name": "f", "arguments": {"city": "Oslo", "n": [1, 2.5]}}}]}}),
    ("string_slicing_unicode", "{{ s[:3] }}|{{ s[-3:] }}|{{ s[1::2] }}|{{ s | length }}|{{ s.split(' ') }}|{{ s | replace('é', 'e') }}|{{ s.upper() }}|{{ s.title() }}", {"s": "héllo wörld 🚀 ǆemal"}),
    ("json_escapes", "{{ s | tojson }}|{{ s | tojson(ensure_ascii=true) }}", {"s": "tab\t nl\n cr\r bs\\ q\" ctl\u0001\u001f del\u007f é 🚀 \u2028"}),
    ("is_tests_on_data", "{% for v in values %}{{ v is string }}{{ v is number }}{{ v is mapping }}{{ v is sequence }}{{ v is iterable }}{{ v is none }}{{ v is boolean }};{% endfor %}", {"values": ["s", 1, 2.5, True, None, [1], {"a": 1}]}),
    ("truthiness", "{% for v in values %}{{ 'T' if v else 'F' }}{% endfor %}", {"values": ["", "a", 0, 1, 0.0, 0.1, [], [0], {}, {"a": 0}, None, False, True]}),
    ("loop_over_dict_items_sorted", "{% for k, v in d | dictsort %}{{ loop.index }}{{ k }}{{ v }}{% endfor %}|{% for k in d | sort %}{{ k }}{% endfor %}", {"d": {"b": 1, "a": 2, "c": 0}}),
    ("set_in_nested_ifs", "{% set x = 1 %}{% if true %}{% if true %}{% set x = 2 %}{% endif %}{% endif %}{{ x }}{% for i in [1] %}{% if true %}{% set x = 3 %}{% endif %}{{ x }}{% endfor %}{{ x }}", {}),
    ("macro_caller_and_loop", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% for i in range(2) %}{% call wrap('b') %}{{ i }}{{ loop.index }}{% endcall %}{% endfor %}", {}),
    ("whitespace_combo", "<ul>\n  {%- for x in items %}\n    <li>{{ x }}</li>\n  {%- endfor %}\n</ul>\n{# c #}\n  {%+ if true %}kept{% endif %}\n", {"items": [1, 2]}),
    ("comment_only_lines", "a\n{# one #}\n{# two -#}\n   b\n    {#- three #}c", {}),
    ("raw_with_whitespace", "x\n  {% raw -%}\n  {{ y }}\n  {%- endraw %}\nz", {}),
    ("case_mapping", "{{ 'ΟΔΟΣ ΟΔΟΣ.' | lower }}|{{ 'straße ﬁx' | upper }}|{{ 'İx' | lower }}|{{ 'ǆ' | capitalize }}|{{ 'ß' | title }}|{{ 'hello WORLD' | capitalize }}", {}),
    ("shadowed_by_later_set", "{% for i in [1] %}[{{ x }}]{% endfor %}{% set x = 'late' %}[{{ x }}]{% for i in [1] %}[{{ y }}]{% endfor %}{% if true %}{% set y = 'cond' %}{% endif %}", {"x": "context", "y": "context"}),
    ("shadowed_in_loop_frame", "{% for i in [1, 2] %}[{{ w }}]{% set w = i %}{% endfor %}{% macro m() %}[{{ v }}]{% set v = 1 %}{% endmacro %}{{ m() }}", {"w": "context", "v": "context"}),
    ("filter_block_scope", "{% set a = 1 %}{% filter upper %}{% set a = 2 %}x{{ a }}{% endfilter %}{{ a }}{% set b %}{% set a = 3 %}{% endset %}{{ a }}{% for i in [] %}{% else %}{% set a = 4 %}{% endfor %}{{ a }}", {}),
    ("select_on_falsy", "{{ false | select | list }}{{ none | map('upper') | list }}{{ 0 | selectattr('x') | list }}", {}),
    ("repr_of_undefined", "{{ [missing, 1] }}{{ {'k': missing} }}", {}),
    ("error_namespace_checked_first", "{% set ns.a = missing.b %}", {"ns": 1}),
    ("error_int_of_undefined", "{{ d.missing | int }}", {"d": {}}),
    ("error_tuple_concat", "{{ (1, 2) + 3 }}", {}),
    # Statements.
    ("if_elif_else", "{% for v in [1, 2, 3] %}{% if v == 1 %}one{% elif v == 2 %}two{% else %}many{% endif %},{% endfor %}", {}),
    ("for_loop_variables", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}", {}),
    ("for_else", "{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in [1] %}{{ x }}{% else %}empty{% endfor %}", {}),
    ("for_filter", "{% for x in range(10) if x is odd %}{{ x }}{{ '/' ~ loop.length if loop.last }},{% endfor %}", {}),
    ("for_unpack", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}", {"d": {"z": 1, "a": 2}}),
    ("for_dict_keys", "{% for k in d %}{{ k }}{% endfor %}", {"d": {"z": 1, "a": 2}}),
    ("for_nested_loop", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.index }}{{ b }}{% endfor %}{{ loop.index }};{% endfor %}", {}),
    ("break_continue", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 4 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("loop_cycle", "{% for i in range(5) %}{{ loop.cycle('a', 'b', 'c') }}{% endfor %}", {}),
    ("loop_changed", "{% for i in [1, 1, 2, 2, 3] %}{% if loop.changed(i) %}{{ i }}{% endif %}{% endfor %}", {}),
    ("set_scoping", "{% set x = 'outer' %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}{% if true %}{% set x = 'if' %}{% endif %}{{ x }}", {}),
    ("set_per_iteration", "{% for i in [1, 2, 3] %}{% if loop.first %}{% set y = 'a' %}{% endif %}[{{ y }}]{% endfor %}", {}),
    ("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c, d = ['x', 'y'] %}{{ c }}{{ d }}", {}),
    ("set_block", "{% set text %}  Hello {{ name }}!  {% endset %}[{{ text }}]{% set up | upper %}shout{% endset %}{{ up }}", {"name": "Ann"}),
    ("namespace", "{% set ns = namespace(count=0, names=[]) %}{% for x in [1, 2, 3] %}{% set ns.count = ns.count + x %}{% endfor %}{{ ns.count }} {{ ns.names }} {{ ns.missing is defined }}", {}),
    ("namespace_from_dict", "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}", {}),
    ("macro_defaults", "{% macro greet(name, greeting='Hello', punct='!') %}{{ greeting }}, {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', 'Hi') }} {{ greet('Cy', punct='?') }} {{ greet(name='Di', greeting='Yo') }}", {}),
    ("macro_recursion", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1) | int }}{% endif %}{% endmacro %}{{ fact(5) }}", {}),
    ("macro_forward_call", "{% macro a(x) %}<{{ b(x) }}>{% endmacro %}{% macro b(x) %}{{ x | upper }}{% endmacro %}{{ a('q') }}", {}),
    ("macro_missing_argument", "{% macro m(a, b) %}[{{ a }}][{{ b }}][{{ b is defined }}]{% endmacro %}{{ m(1) }}", {}),
    ("macro_varargs_kwargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k='v') }}", {}),
    ("macro_whitespace", "{%- macro m(x) -%}\n    [{{ x }}]\n{%- endmacro -%}\n{{ m(1) | trim }}{{ m(2) }}", {}),
    ("macro_sees_globals", "{% macro m() %}{{ y }}{% endmacro %}{% set y = 1 %}{{ m() }}{% set y = 2 %}{{ m() }}{% for i in [1] %}{% set y = 3 %}{{ m() }}{% endfor %}", {}),
    ("call_block", "{% macro box(title) %}[{{ title }}: {{ caller() }}]{% endmacro %}{% call box('T') %}inner {{ 1 + 1 }}{% endcall %}", {}),
    ("call_block_args", "{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) each([1, 2]) %}<{{ x }}>{% endcall %}", {}),
    ("filter_block", "{% filter upper %}hello {{ 'world' }}{% endfilter %}", {}),
    ("with_block", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a is defined }}", {}),
    ("generation_block", "{% generation %}kept{% endgeneration %}", {}),
    # Filters.
    ("filters_text", "{{ '  hi  ' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ 'hello world' | capitalize }}|{{ 'hELLO wORLD-foo (bar)' | title }}|{{ 'Hi' | upper }}{{ 'Hi' | lower }}|{{ 'a-b-a' | replace('a', 'o') }}|{{ 'aaa' | replace('a', 'b', 2) }}", {}),
    ("filters_default", "{{ missing | default('d') }}|{{ none | default('d') }}|{{ '' | default('d', true) }}|{{ missing | d('x') }}|{{ 0 | default(5, boolean=true) }}", {}),
    ("filters_sequence", "{{ [3, 1, 2] | first }}{{ [3, 1, 2] | last }}{{ 'abc' | first }}|{{ [3, 1, 2] | sort }}|{{ [3, 1, 2] | sort(reverse=true) }}|{{ ['b', 'A', 'c'] | sort }}|{{ ['b', 'A', 'c'] | sort(case_sensitive=true) }}|{{ [1, 2, 1, 3] | unique | list }}|{{ [1, 2] | reverse | list }}|{{ 'abc' | list }}|{{ [1, 2, 3] | length }}{{ {'a': 1} | count }}", {}),
    ("filters_join", "{{ [1, 2, 3] | join }}|{{ ['a', 'b'] | join(', ') }}|{{ users | join(', ', attribute='name') }}", {"users": [{"name": "ann"}, {"name": "bob"}]}),
    ("filters_numbers", "{{ '42' | int }} {{ '4.7' | float }} {{ 4.7 | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ '0x1A' | int(0, 16) }} {{ -3 | abs }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.567 | round(2) }} {{ 2.5 | round(method='floor') }} {{ 2.1 | round(method='ceil') }} {{ 5 | float }} {{ true | int }} {{ '3' | float }}", {}),
    ("filters_string", "{{ 12 | string }}{{ none | string }}{{ [1] | string }}|{{ '<a href=\"x\">&\\'' | escape }}|{{ '<b>' | e }}|{{ '<b>' | safe }}", {}),
    ("filters_dicts", "{{ d | dictsort }}|{{ d | dictsort(reverse=true) }}|{{ d | dictsort(by='value') }}|{{ d | items | list }}|{% for k, v in d | items %}{{ k }}{{ v }}{% endfor %}", {"d": {"b": 2, "a": 3, "C": 1}}),
    ("filters_select", "{{ users | selectattr('admin') | map(attribute='name') | list }}|{{ users | rejectattr('admin') | map(attribute='name') | join(',') }}|{{ users | selectattr('name', 'equalto', 'bob') | list | length }}|{{ [1, 2, 3, 4] | select('even') | list }}|{{ [1, 2, 3, 4] | reject('odd') | list }}|{{ ['a', 'B'] | map('upper') | list }}|{{ users | map(attribute='age', default=0) | list }}", {"users": [{"name": "ann", "admin": True, "age": 30}, {"name": "bob", "admin": False}]}),
    ("filters_indent", "{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}|{{ 'a\\nb' | indent('> ') }}", {}),
    ("filters_tojson", "{{ v | tojson }}|{{ v | tojson(indent=2) }}|{{ 'é\"\\n<' | tojson }}|{{ [1.0, 2.5e-7, 1e22, none, true] | tojson }}|{{ {'b': 1, 'a': {}} | tojson(sort_keys=true) }}|{{ {'x': [], 'y': [1]} | tojson(indent=2) }}", {"v": {"name": "x", "list": [1, 2], "nested": {"ok": False}}}),
    ("filters_misc", "{{ [1, 5, 3] | max }} {{ [1, 5, 3] | min }} {{ [1, 5, 3] | sum }} {{ 'a b  c' | wordcount }} {{ [1, 2, 3, 4, 5] | batch(2) | list }} {{ 'abc' | center(7) }}| {{ 'hello world foo' | truncate(9) }}", {}),
    ("filter_chain_precedence", "{{ 'a' + ' b ' | trim + 'c' }}|{{ -2 | abs }}|{{ x | default('none') + '!' }}", {}),
    # Tests.
    ("tests_types", "{{ 'a' is string }}{{ 1 is number }}{{ 1.5 is number }}{{ true is number }}{{ 1 is integer }}{{ 1.0 is float }}{{ true is boolean }}{{ {} is mapping }}{{ [] is mapping }}{{ [] is sequence }}{{ 'a' is sequence }}{{ {} is sequence }}{{ 1 is iterable }}{{ 'a' is iterable }}{{ none is none }}{{ x is undefined }}{{ x is defined }}{{ range is callable }}", {}),
    ("tests_values", "{{ 3 is odd }}{{ 3 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(2) }}{{ false is false }}{{ 0 is false }}{{ true is true }}{{ 'a' is lower }}{{ 'A' is upper }}{{ 1 is eq 1 }}{{ 1 is ne 2 }}{{ 2 is gt 1 }}{{ 'a' is in 'abc' }}{{ x is sameas none }}{{ 1 is not none }}", {"x": None}),
    ("tests_defined_attributes", "{{ d.a is defined }}{{ d.b is defined }}{{ d['b'] is not defined }}{{ none.x is defined }}", {"d": {"a": 1}}),
    # Methods.
    ("string_methods", "{{ '  x  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  x '.lstrip() }}|{{ ' x  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith('bc') }}{{ 'abc'.startswith(('x', 'a')) }}|{{ 'aBc'.upper() }}{{ 'aBc'.lower() }}|{{ 'a-a'.replace('a', 'b') }}|{{ 'hi there'.title() }}{{ 'hi there'.capitalize() }}|{{ '{} and {}'.format(1, 'x') }}|{{ 'a b'.rsplit(' ', 1) }}|{{ 'abc'.find('c') }}{{ 'abcb'.count('b') }}|{{ ','.join(['x', 'y']) }}|{{ 'ab'.isalpha() }}{{ '12'.isdigit() }}|{{ 'a\\nb'.splitlines() }}", {}),
    ("dict_methods", "{{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }} {{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 9) }} {{ d['a'] }}", {"d": {"a": 1, "b": [2]}}),
    ("builtins", "{{ range(3) | list }} {{ range(1, 4) | list }} {{ range(10, 0, -3) | list }} {{ dict(a=1, b=2) }} {{ strftime_now('%Y-%m-%d %H:%M:%S %d %b %B %a %A %y %j %p %I %%') }} {{ namespace is callable }}", {}),
    # Errors, with the message the caller sees.
    ("error_raise_exception", "before{{ raise_exception('Nope: ' ~ 42) }}", {}),
    ("error_undefined_attribute", "{{ missing.attr }}", {}),
    ("error_undefined_call", "{{ not_a_function(1) }}", {}),
    ("error_undefined_item", "{{ missing[0] }}", {}),
    ("error_concat_type", "{{ 'a' + 1 }}", {}),
    ("error_syntax_unclosed", "line1\n{% if true %}\nnever closed", {}),
    ("error_syntax_unknown_tag", "{% frobnicate %}", {}),
    ("error_syntax_bad_expression", "ok\n\n{{ 1 + }}", {}),
    ("error_syntax_unclosed_string", "{{ 'abc }}", {}),
    ("error_syntax_missing_endfor", "{% for x in y %}{% endif %}", {}),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--extract", action="store_true", help="copy templates out of the GGUF files first")
    parser.add_argument("--any-jinja", action="store_true", help="run with a jinja2 other than " + JINJA2_VERSION)
    args = parser.parse_args()
    if jinja2.__version__ != JINJA2_VERSION and not args.any_jinja:
        sys.exit(f"fixtures are made with jinja2 {JINJA2_VERSION}, this is {jinja2.__version__}")
    if args.extract:
        extract_gguf_templates()

    for name, cases in template_cases().items():
        source = (TEMPLATES / f"{name}.jinja").read_text(encoding="utf-8")
        rendered = []
        for case_name, context in cases:
            case = {"name": case_name, "context": context, "now": FIXED_NOW}
            case.update(render_case(source, case))
            rendered.append(case)
        write_fixture(f"{name}.cases.json", {"template": f"{name}.jinja", "cases": rendered})

    rendered = []
    for case_name, source, context in LANGUAGE:
        case = {"name": case_name, "source": source, "context": context, "now": FIXED_NOW}
        case.update(render_case(source, case))
        rendered.append(case)
    write_fixture("language.cases.json", {"template": None, "cases": rendered})


def write_fixture(file_name, body):
    body = {"jinja2_version": jinja2.__version__, **body}
    text = json.dumps(body, ensure_ascii=False, indent=1) + "\n"
    (TEMPLATES / file_name).write_text(text, encoding="utf-8", newline="")
    outcomes = [("error " + c["error"]["kind"]) if "error" in c else "ok" for c in body["cases"]]
    print(f"{file_name}: {len(outcomes)} cases ({outcomes.count('ok')} render, {len(outcomes) - outcomes.count('ok')} errors)")


if __name__ == "__main__":
    main()
