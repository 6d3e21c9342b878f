@testable import KilnTokenizer
import Testing

/// Expected words from Python's `regex` module running each pre-tokenizer's own regex (for
/// SmolLM: `\p{N}` first, then the GPT-2 regex on each piece, as llama.cpp does), generated once
/// and pasted here; the scanners must reproduce them exactly.
enum PreTokenizerCases {
    static let gpt2: [(String, [String])] = [
        ("Hello world", ["Hello", " world"]),
        ("I'm here, they'LL go; it'S", ["I", "'m", " here", ",", " they", "'", "LL", " go", ";", " it", "'", "S"]),
        ("a   b\t\tc  \n\n d", ["a", "  ", " b", "\t", "\t", "c", "  \n\n", " d"]),
        ("x  ", ["x", "  "]),
        ("1234567 ab12cd", ["1234567", " ab", "12", "cd"]),
        ("  \r\n\r\n  end", ["  \r\n\r\n ", " end"]),
        ("(hi) ...!?\n\nok", ["(", "hi", ")", " ...!?", "\n", "\n", "ok"]),
        ("naïve e\u{301}te", ["naïve", " e", "\u{301}", "te"]),
        ("price: $12.50", ["price", ":", " $", "12", ".", "50"]),
        ("tab\tend\u{A0}nbsp\u{3000}ideo", ["tab", "\t", "end", "\u{A0}", "nbsp", "\u{3000}", "ideo"]),
        ("!!!\n", ["!!!", "\n"]),
        ("   ", ["   "]),
        ("a 1 22 333", ["a", " 1", " 22", " 333"]),
        ("안녕하세요 世界123", ["안녕하세요", " 世界", "123"]),
        ("x\n  y", ["x", "\n ", " y"]),
        ("٣٤٥٦ ½² Ⅻ", ["٣٤٥٦", " ½²", " Ⅻ"]),
        ("👩\u{200D}💻 🇯🇵!", ["👩\u{200D}💻", " 🇯🇵!"]),
        ("", []),
        ("'", ["'"]),
        ("don't' 've", ["don", "'t", "'", " '", "ve"]),
    ]
    static let llama3: [(String, [String])] = [
        ("Hello world", ["Hello", " world"]),
        ("I'm here, they'LL go; it'S", ["I", "'m", " here", ",", " they", "'LL", " go", ";", " it", "'S"]),
        ("a   b\t\tc  \n\n d", ["a", "  ", " b", "\t", "\tc", "  \n\n", " d"]),
        ("x  ", ["x", "  "]),
        ("1234567 ab12cd", ["123", "456", "7", " ab", "12", "cd"]),
        ("  \r\n\r\n  end", ["  \r\n\r\n", " ", " end"]),
        ("(hi) ...!?\n\nok", ["(hi", ")", " ...!?\n\n", "ok"]),
        ("naïve e\u{301}te", ["naïve", " e", "\u{301}te"]),
        ("price: $12.50", ["price", ":", " $", "12", ".", "50"]),
        ("tab\tend\u{A0}nbsp\u{3000}ideo", ["tab", "\tend", "\u{A0}nbsp", "\u{3000}ideo"]),
        ("!!!\n", ["!!!\n"]),
        ("   ", ["   "]),
        ("a 1 22 333", ["a", " ", "1", " ", "22", " ", "333"]),
        ("안녕하세요 世界123", ["안녕하세요", " 世界", "123"]),
        ("x\n  y", ["x", "\n", " ", " y"]),
        ("٣٤٥٦ ½² Ⅻ", ["٣٤٥", "٦", " ", "½²", " ", "Ⅻ"]),
        ("👩\u{200D}💻 🇯🇵!", ["👩\u{200D}💻", " 🇯🇵!"]),
        ("", []),
        ("'", ["'"]),
        ("don't' 've", ["don", "'t", "'", " '", "ve"]),
    ]
    static let qwen2: [(String, [String])] = [
        ("Hello world", ["Hello", " world"]),
        ("I'm here, they'LL go; it'S", ["I", "'m", " here", ",", " they", "'LL", " go", ";", " it", "'S"]),
        ("a   b\t\tc  \n\n d", ["a", "  ", " b", "\t", "\tc", "  \n\n", " d"]),
        ("x  ", ["x", "  "]),
        ("1234567 ab12cd", ["1", "2", "3", "4", "5", "6", "7", " ab", "1", "2", "cd"]),
        ("  \r\n\r\n  end", ["  \r\n\r\n", " ", " end"]),
        ("(hi) ...!?\n\nok", ["(hi", ")", " ...!?\n\n", "ok"]),
        ("naïve e\u{301}te", ["naïve", " e", "\u{301}te"]),
        ("price: $12.50", ["price", ":", " $", "1", "2", ".", "5", "0"]),
        ("tab\tend\u{A0}nbsp\u{3000}ideo", ["tab", "\tend", "\u{A0}nbsp", "\u{3000}ideo"]),
        ("!!!\n", ["!!!\n"]),
        ("   ", ["   "]),
        ("a 1 22 333", ["a", " ", "1", " ", "2", "2", " ", "3", "3", "3"]),
        ("안녕하세요 世界123", ["안녕하세요", " 世界", "1", "2", "3"]),
        ("x\n  y", ["x", "\n", " ", " y"]),
        ("٣٤٥٦ ½² Ⅻ", ["٣", "٤", "٥", "٦", " ", "½", "²", " ", "Ⅻ"]),
        ("👩\u{200D}💻 🇯🇵!", ["👩\u{200D}💻", " 🇯🇵!"]),
        ("", []),
        ("'", ["'"]),
        ("don't' 've", ["don", "'t", "'", " '", "ve"]),
    ]
    static let smollm: [(String, [String])] = [
        ("Hello world", ["Hello", " world"]),
        ("I'm here, they'LL go; it'S", ["I", "'m", " here", ",", " they", "'", "LL", " go", ";", " it", "'", "S"]),
        ("a   b\t\tc  \n\n d", ["a", "  ", " b", "\t", "\t", "c", "  \n\n", " d"]),
        ("x  ", ["x", "  "]),
        ("1234567 ab12cd", ["1", "2", "3", "4", "5", "6", "7", " ab", "1", "2", "cd"]),
        ("  \r\n\r\n  end", ["  \r\n\r\n ", " end"]),
        ("(hi) ...!?\n\nok", ["(", "hi", ")", " ...!?", "\n", "\n", "ok"]),
        ("naïve e\u{301}te", ["naïve", " e", "\u{301}", "te"]),
        ("price: $12.50", ["price", ":", " $", "1", "2", ".", "5", "0"]),
        ("tab\tend\u{A0}nbsp\u{3000}ideo", ["tab", "\t", "end", "\u{A0}", "nbsp", "\u{3000}", "ideo"]),
        ("!!!\n", ["!!!", "\n"]),
        ("   ", ["   "]),
        ("a 1 22 333", ["a", " ", "1", " ", "2", "2", " ", "3", "3", "3"]),
        ("안녕하세요 世界123", ["안녕하세요", " 世界", "1", "2", "3"]),
        ("x\n  y", ["x", "\n ", " y"]),
        ("٣٤٥٦ ½² Ⅻ", ["٣", "٤", "٥", "٦", " ", "½", "²", " ", "Ⅻ"]),
        ("👩\u{200D}💻 🇯🇵!", ["👩\u{200D}💻", " 🇯🇵!"]),
        ("", []),
        ("'", ["'"]),
        ("don't' 've", ["don", "'t", "'", " '", "ve"]),
    ]
}

@Suite("Pre-tokenizer scanners")
struct PreTokenizerTests {
    @Test("scanners split like their regexes",
          arguments: [(PreTokenizer.gpt2, PreTokenizerCases.gpt2), (.llama3, PreTokenizerCases.llama3),
                      (.qwen2, PreTokenizerCases.qwen2), (.smollm, PreTokenizerCases.smollm)])
    func splits(preTokenizer: PreTokenizer, cases: [(String, [String])]) {
        for (text, words) in cases {
            #expect(preTokenizer.split(text) == words, "\(preTokenizer): \(text.debugDescription)")
        }
    }

    @Test("words cover the text exactly, on every scanner")
    func coverage() {
        let text = "Mixed   runs \t of 12345 blanks\r\n\r\n  — «quotes» 'LL 🦙.cpp 你好 e\u{301}\u{A0}\u{2003}x  "
        for preTokenizer in PreTokenizer.allCases {
            let words = preTokenizer.split(text)
            #expect(words.joined() == text, "\(preTokenizer)")
            #expect(!words.contains(""), "\(preTokenizer)")
        }
    }

    @Test("llama.cpp's tokenizer.ggml.pre names map to their regex family")
    func names() {
        #expect(PreTokenizer(ggmlName: "gpt-2") == .gpt2)
        #expect(PreTokenizer(ggmlName: "llama-bpe") == .llama3)
        #expect(PreTokenizer(ggmlName: "qwen2") == .qwen2)
        #expect(PreTokenizer(ggmlName: "deepseek-r1-qwen") == .qwen2)
        #expect(PreTokenizer(ggmlName: "smollm") == .smollm)
        #expect(PreTokenizer(ggmlName: "starcoder") == .smollm)
        #expect(PreTokenizer(ggmlName: "tekken") == nil)
        #expect(PreTokenizer(ggmlName: "") == nil)
    }
}

@Suite("Special-token splitter")
struct SpecialTokenSplitterTests {
    /// Segments as readable values: text pieces decoded, tokens by id.
    enum Piece: Equatable { case text(String), token(Int) }

    static func pieces(_ splitter: SpecialTokenSplitter, _ text: String, parseSpecial: Bool) -> [Piece] {
        let bytes = Array(text.utf8)
        return splitter.split(text, parseSpecial: parseSpecial).map { segment in
            switch segment {
            case let .text(range): return .text(String(decoding: bytes[range], as: UTF8.self))
            case let .token(id): return .token(id)
            }
        }
    }

    // ids: 0 "<|im_start|>" control, 1 "<|im_end|>" control, 2 "<tool_call>" user-defined,
    // 3 "hello" normal, 4 "<|im" control (a prefix of 0 and 1), 5 "[MASK]" user-defined.
    static let tokens = ["<|im_start|>", "<|im_end|>", "<tool_call>", "hello", "<|im", "[MASK]"]
    static let kinds: [TokenKind] = [.control, .control, .userDefined, .normal, .control, .userDefined]

    @Test("control tokens only with parseSpecial, user-defined always, normal never")
    func kindsDecide() {
        let splitter = SpecialTokenSplitter(tokens: Self.tokens, kinds: Self.kinds)
        let text = "<|im_start|>user\nhello<tool_call>x<|im_end|>"
        #expect(Self.pieces(splitter, text, parseSpecial: true)
                == [.token(0), .text("user\nhello"), .token(2), .text("x"), .token(1)])
        #expect(Self.pieces(splitter, text, parseSpecial: false)
                == [.text("<|im_start|>user\nhello"), .token(2), .text("x<|im_end|>")])
        #expect(Self.pieces(splitter, "", parseSpecial: true) == [])
        #expect(Self.pieces(splitter, "plain", parseSpecial: true) == [.text("plain")])
    }

    @Test("longer tokens win over their prefixes")
    func longestFirst() {
        let splitter = SpecialTokenSplitter(tokens: Self.tokens, kinds: Self.kinds)
        #expect(Self.pieces(splitter, "<|im<|im_end|><|im", parseSpecial: true)
                == [.token(4), .token(1), .token(4)])
    }

    @Test("lstrip and rstrip absorb neighbouring whitespace")
    func strip() {
        let splitter = SpecialTokenSplitter(tokens: Self.tokens, kinds: Self.kinds,
                                            strip: [5: [.left, .right], 2: [.left]])
        #expect(Self.pieces(splitter, "a  [MASK] \n b <tool_call> c", parseSpecial: false)
                == [.text("a"), .token(5), .text("b"), .token(2), .text(" c")])
    }
}
