/// How to pick each next token, per request (OpenAI / vLLM semantics).
public struct SamplingParameters: Sendable, Equatable, Codable {
    /// 0 means greedy (argmax); otherwise logits are divided by it. Must be >= 0.
    public var temperature: Float
    /// Keep only the k most likely tokens; 0 (or <0) disables.
    public var topK: Int
    /// Keep the smallest set of most likely tokens whose probability sums to >= topP; 1 disables. In (0, 1].
    public var topP: Float
    /// Drop tokens whose probability is below minP x the top probability; 0 disables. In [0, 1].
    public var minP: Float
    /// Divides positive logits (multiplies negative ones) of tokens already seen (prompt and
    /// output), as transformers/vLLM do; 1 disables. > 0.
    public var repetitionPenalty: Float
    /// Subtracted once from the logit of every token present in the output so far (OpenAI). In [-2, 2].
    public var presencePenalty: Float
    /// Subtracted count times from the logit of each token in the output so far (OpenAI). In [-2, 2].
    public var frequencyPenalty: Float
    /// Seed of this request's random stream: same seed, same parameters, same text. nil: random.
    public var seed: UInt64?
    /// Most tokens to generate.
    public var maxTokens: Int
    /// Token ids that end generation (in addition to the model's EOS unless `ignoreEOS`).
    public var stopTokenIDs: [Int]
    /// Strings that end generation; the matched text is not returned.
    public var stopStrings: [String]
    /// Keep generating past EOS (benchmarks).
    public var ignoreEOS: Bool
    /// Return the log-probability of each chosen token and of this many top alternatives; nil: none.
    public var logprobs: Int?

    /// Creates parameters; the defaults are greedy decoding of up to 256 tokens.
    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, minP: Float = 0,
                repetitionPenalty: Float = 1, presencePenalty: Float = 0, frequencyPenalty: Float = 0,
                seed: UInt64? = nil, maxTokens: Int = 256, stopTokenIDs: [Int] = [], stopStrings: [String] = [],
                ignoreEOS: Bool = false, logprobs: Int? = nil) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.seed = seed
        self.maxTokens = maxTokens
        self.stopTokenIDs = stopTokenIDs
        self.stopStrings = stopStrings
        self.ignoreEOS = ignoreEOS
        self.logprobs = logprobs
    }

    /// Whether decoding is deterministic argmax.
    public var isGreedy: Bool { temperature == 0 }

    /// A draw (temperature > 0) with nothing that needs the logits on the host (no penalties, no
    /// logprobs): a device can truncate and draw where the logits are.
    public var isPlainDraw: Bool {
        !isGreedy && repetitionPenalty == 1 && presencePenalty == 0 && frequencyPenalty == 0 && logprobs == nil
    }

    /// Greedy with nothing that needs the logits on the host (no penalties, no logprobs): the
    /// argmax can be taken where the logits are (on the GPU) and only ids read back.
    public var isPlainGreedy: Bool {
        isGreedy && repetitionPenalty == 1 && presencePenalty == 0 && frequencyPenalty == 0 && logprobs == nil
    }

    /// Checks every value is in range; the error names the parameter and the allowed range.
    public func validate() throws {
        func bad(_ text: String) -> KilnError { .invalidArgument("invalid sampling parameter: \(text)") }
        guard temperature.isFinite, temperature >= 0 else { throw bad("temperature must be >= 0, got \(temperature)") }
        guard topP.isFinite, topP > 0, topP <= 1 else { throw bad("top-p must be in (0, 1], got \(topP)") }
        guard minP.isFinite, minP >= 0, minP <= 1 else { throw bad("min-p must be in [0, 1], got \(minP)") }
        guard topK >= 0 else { throw bad("top-k must be >= 0 (0 disables), got \(topK)") }
        guard repetitionPenalty.isFinite, repetitionPenalty > 0 else { throw bad("repetition penalty must be > 0, got \(repetitionPenalty)") }
        guard presencePenalty.isFinite, abs(presencePenalty) <= 2 else { throw bad("presence penalty must be in [-2, 2], got \(presencePenalty)") }
        guard frequencyPenalty.isFinite, abs(frequencyPenalty) <= 2 else { throw bad("frequency penalty must be in [-2, 2], got \(frequencyPenalty)") }
        guard maxTokens >= 1 else { throw bad("max tokens must be >= 1, got \(maxTokens)") }
        if let logprobs { guard logprobs >= 0, logprobs <= 20 else { throw bad("logprobs must be in 0...20, got \(logprobs)") } }
        guard !stopStrings.contains("") else { throw bad("stop strings must not be empty") }
    }
}
