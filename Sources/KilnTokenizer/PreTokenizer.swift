/// How byte-level BPE vocabularies cut text into words before merging, one case per regex
/// family that llama.cpp knows (GGUF `tokenizer.ggml.pre`). Each is a hand-written scanner over
/// Unicode scalars that reproduces llama.cpp's splits exactly; see `PreTokenizer+Scanners.swift`.
public enum PreTokenizer: String, Sendable, CaseIterable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    case llama3
    /// Qwen 2: the Llama 3 regex with `\p{N}` one digit at a time.
    case qwen2
    /// SmolLM / StarCoder: every `\p{N}` scalar is its own word, then GPT-2 on the text between.
    case smollm

    /// The pre-tokenizer llama.cpp uses for a `tokenizer.ggml.pre` value, nil for names whose
    /// regexes Kiln does not implement.
    public init?(ggmlName: String) {
        switch ggmlName {
        case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de",
             "a.x-4.0", "mellum", "modern-bert", "jina-v1-en", "jina-v2-code", "roberta-bpe",
             "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4":
            self = .gpt2
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0",
             "lfm2", "jina-v5-nano", "dbrx", "smaug-bpe", "glm4", "chatglm-bpe":
            self = .llama3
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan",
             "solar-open":
            self = .qwen2
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b",
             "mellum2":
            self = .smollm
        default:
            return nil
        }
    }

    /// Splits `text` into words (for tests and inspection; encoding works on byte ranges).
    public func split(_ text: String) -> [String] {
        var text = text
        return text.withUTF8 { bytes in
            let scalars = ScalarText(utf8: bytes)
            var words: [Range<Int>] = []
            wordRanges(in: scalars, into: &words)
            return words.map { range in
                let lower = Int(scalars.byteOffsets[range.lowerBound])
                let upper = Int(scalars.byteOffsets[range.upperBound])
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[lower..<upper]), as: UTF8.self)
            }
        }
    }

    /// Appends the words of `text` as scalar index ranges, in order, covering every scalar.
    func wordRanges(in text: ScalarText, into words: inout [Range<Int>]) {
        switch self {
        case .gpt2:
            Self.scanGPT2(text, from: 0, to: text.count, into: &words)
        case .llama3:
            Self.scanLlama3(text, from: 0, to: text.count, maxDigits: 3, into: &words)
        case .qwen2:
            Self.scanLlama3(text, from: 0, to: text.count, maxDigits: 1, into: &words)
        case .smollm:
            // llama.cpp runs `\p{N}` first, then the GPT-2 scanner inside each piece between
            // digits: the pieces' ends act as end of text for GPT-2's `\s+(?!\S)` lookahead.
            var pieceStart = 0
            for index in 0..<text.count where text.classes[index] & ScalarClass.number != 0 {
                Self.scanGPT2(text, from: pieceStart, to: index, into: &words)
                words.append(index..<index + 1)
                pieceStart = index + 1
            }
            Self.scanGPT2(text, from: pieceStart, to: text.count, into: &words)
        }
    }
}
