import ArgumentParser
import KilnCore

/// Sampling flags shared by `generate` (and later `serve` defaults).
struct SamplingOptions: ParsableArguments {
    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0.7
    @Option(help: "Keep the k most likely tokens (0: off).")
    var topK: Int = 0
    @Option(help: "Nucleus sampling mass in (0, 1] (1: off).")
    var topP: Float = 1
    @Option(help: "Drop tokens below min-p x the top probability (0: off).")
    var minP: Float = 0
    @Option(help: "Penalise tokens already seen (1: off).")
    var repetitionPenalty: Float = 1
    @Option(help: "OpenAI presence penalty in [-2, 2].")
    var presencePenalty: Float = 0
    @Option(help: "OpenAI frequency penalty in [-2, 2].")
    var frequencyPenalty: Float = 0
    @Option(help: "Random seed: same seed, same text.")
    var seed: UInt64?
    @Option(help: "Most tokens to generate.")
    var maxTokens: Int = 256
    @Option(name: .customLong("stop"), help: "Stop when this text appears (repeatable).")
    var stopStrings: [String] = []
    @Option(name: .customLong("stop-token-id"), help: "Stop at this token id (repeatable).")
    var stopTokenIDs: [Int] = []
    @Flag(help: "Keep going past end-of-sequence tokens.")
    var ignoreEos = false
    @Option(help: "Report log-probabilities of each chosen token and this many alternatives.")
    var logprobs: Int?

    /// The parameters, validated (a bad value is a one-line error).
    func parameters() throws -> SamplingParameters {
        let parameters = SamplingParameters(
            temperature: temperature, topK: topK, topP: topP, minP: minP, repetitionPenalty: repetitionPenalty,
            presencePenalty: presencePenalty, frequencyPenalty: frequencyPenalty, seed: seed, maxTokens: maxTokens,
            stopTokenIDs: stopTokenIDs, stopStrings: stopStrings, ignoreEOS: ignoreEos, logprobs: logprobs)
        try parameters.validate()
        return parameters
    }
}
