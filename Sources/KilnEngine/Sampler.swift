import Foundation
import KilnCore

/// One token chosen by a `Sampler`, with log-probabilities when the request asked for them.
public struct SampledToken: Sendable, Equatable {
    /// A token id with its log-probability.
    public struct Alternative: Sendable, Equatable {
        /// Token id.
        public var id: Int
        /// Natural-log probability, same convention as `SampledToken.logprob`.
        public var logprob: Float

        /// Creates an alternative.
        public init(id: Int, logprob: Float) {
            self.id = id
            self.logprob = logprob
        }
    }

    /// The chosen token id.
    public var id: Int
    /// ln P(id) under softmax of the logits after the penalties, at temperature 1, before top-k,
    /// top-p and min-p: what the model believes once penalised, independent of how the request
    /// samples. Without penalties this is vLLM's default (`raw_logprobs`). nil unless `logprobs`
    /// was requested.
    public var logprob: Float?
    /// The `logprobs` most likely tokens under the same distribution, most likely first (ties:
    /// lower id first); empty unless requested.
    public var topLogprobs: [Alternative]

    /// Creates a sampled token.
    public init(id: Int, logprob: Float? = nil, topLogprobs: [Alternative] = []) {
        self.id = id
        self.logprob = logprob
        self.topLogprobs = topLogprobs
    }
}

/// Chooses each next token of one request from the model's logits: penalties (repetition,
/// frequency, presence), then temperature, top-k, top-p, min-p, then a draw from the request's
/// own seeded stream, in the order of vLLM and transformers.
///
/// One per request: it remembers the prompt and every token it returned (the penalties' state)
/// and owns the random stream, so a seeded request gives the same tokens whatever else runs in
/// the same batch. Every non-greedy step draws exactly one 64-bit number, greedy steps none.
public struct Sampler: Sendable {
    /// The request's parameters (assumed validated).
    public let parameters: SamplingParameters
    /// The request's random stream; internal so tests can check greedy steps leave it untouched.
    private(set) var generator: SeededGenerator
    /// Prompt and output tokens, for the repetition penalty; empty when that penalty is off.
    private var repeatedTokenIDs: Set<Int> = []
    /// Times each token appeared in the output, for the frequency and presence penalties.
    private var outputCounts: [Int: Int] = [:]
    /// Number of tokens this sampler has returned.
    public private(set) var outputTokenCount = 0
    /// Buffers for `sample(logits:)` without a workspace argument; empty until then.
    var ownWorkspace = Workspace()

    /// Scratch memory for sampling, a few bytes per vocabulary entry (about 4 MB for 262,144
    /// tokens). Samplers hold only their request's state; an engine keeps one workspace per
    /// thread that samples and lends it to each request's sampler in turn.
    public struct Workspace: Sendable {
        /// Copy of the logits with penalties applied, [vocabulary].
        var penalisedLogits: [Float] = []
        /// Buffers of the truncation step.
        var truncation = Truncation()

        /// Creates an empty workspace; it grows on first use to the vocabulary's size.
        public init() {}
    }

    /// Creates the sampler of one request; `promptTokenIDs` feed the repetition penalty.
    public init(parameters: SamplingParameters, promptTokenIDs: [Int] = []) {
        self.parameters = parameters
        generator = parameters.seed.map { SeededGenerator(seed: $0) } ?? SeededGenerator()
        if parameters.repetitionPenalty != 1 { repeatedTokenIDs = Set(promptTokenIDs) }
    }

    /// Whether any penalty changes the logits.
    private var hasPenalties: Bool {
        parameters.repetitionPenalty != 1 || parameters.presencePenalty != 0 || parameters.frequencyPenalty != 0
    }

    /// Chooses the next token from one row of logits, [vocabulary], and records it for the
    /// penalties of later steps, using `workspace` for scratch memory. The logits themselves are
    /// never modified.
    public mutating func sample(logits: UnsafeBufferPointer<Float>, workspace: inout Workspace) -> SampledToken {
        precondition(!logits.isEmpty, "cannot sample from an empty vocabulary")
        let token: SampledToken
        if hasPenalties && (!repeatedTokenIDs.isEmpty || !outputCounts.isEmpty) {
            // Moved out of the workspace so the truncation buffers can be borrowed beside it.
            var penalised = workspace.penalisedLogits
            workspace.penalisedLogits = []
            penalised.removeAll(keepingCapacity: true)
            penalised.append(contentsOf: logits)
            applyPenalties(to: &penalised)
            token = penalised.withUnsafeBufferPointer { choose(from: $0, truncation: &workspace.truncation) }
            workspace.penalisedLogits = penalised
        } else {
            token = choose(from: logits, truncation: &workspace.truncation)
        }
        record(token.id)
        return token
    }

    /// The unit a device draws this step's token with (for `isPlainDraw` requests): takes the one
    /// 64-bit number `sample` would take, so the request's stream advances the same way.
    public mutating func nextUnit() -> Double { generator.nextUnitInterval() }

    /// Records a token chosen elsewhere (on the device) as this sampler's output.
    public mutating func accept(_ id: Int) { record(id) }

    /// Chooses the next token as `sample(logits:workspace:)` does, with a workspace of this
    /// sampler's own (kept between steps: simplest for one request at a time).
    public mutating func sample(logits: UnsafeBufferPointer<Float>) -> SampledToken {
        var workspace = ownWorkspace
        ownWorkspace = Workspace()
        defer { ownWorkspace = workspace }
        return sample(logits: logits, workspace: &workspace)
    }

    /// Chooses the next token from one row of logits, [vocabulary], with this sampler's own
    /// workspace.
    public mutating func sample(logits: [Float]) -> SampledToken {
        logits.withUnsafeBufferPointer { sample(logits: $0) }
    }

    /// Counts a returned token for the penalties.
    private mutating func record(_ id: Int) {
        outputTokenCount += 1
        if parameters.repetitionPenalty != 1 { repeatedTokenIDs.insert(id) }
        if parameters.presencePenalty != 0 || parameters.frequencyPenalty != 0 { outputCounts[id, default: 0] += 1 }
    }

    /// Applies vLLM's penalties in its order: repetition (prompt and output; positive logits
    /// divided, negative multiplied, so the token always becomes less likely), then frequency
    /// (count times) and presence (once) over the output. Ids outside the vocabulary are ignored.
    private func applyPenalties(to logits: inout [Float]) {
        let count = logits.count
        let repetition = parameters.repetitionPenalty
        logits.withUnsafeMutableBufferPointer { logits in
            if repetition != 1 {
                for id in repeatedTokenIDs where id >= 0 && id < count {
                    logits[id] = logits[id] > 0 ? logits[id] / repetition : logits[id] * repetition
                }
            }
            for (id, occurrences) in outputCounts where id >= 0 && id < count {
                logits[id] -= parameters.frequencyPenalty * Float(occurrences) + parameters.presencePenalty
            }
        }
    }

    /// Picks a token from penalised logits and attaches the requested log-probabilities.
    private mutating func choose(from logits: UnsafeBufferPointer<Float>, truncation: inout Truncation) -> SampledToken {
        let (maxIndex, maxLogit) = Self.argmax(logits)
        let id: Int
        var sumOfWeightsAtTemperatureOne: Double?
        let temperature = parameters.temperature
        if temperature == 0 || !maxLogit.isFinite || !(1 / temperature).isFinite {
            // Greedy, or no distribution to draw from (all -inf, a +inf logit): argmax, no draw.
            id = maxIndex
        } else {
            let choice = truncation.choose(logits: logits, maxIndex: maxIndex, maxLogit: maxLogit,
                                           parameters: parameters, unit: generator.nextUnitInterval())
            id = choice.id
            if temperature == 1 { sumOfWeightsAtTemperatureOne = choice.fullSumOfWeights }
        }
        guard let topCount = parameters.logprobs else { return SampledToken(id: id) }
        guard maxLogit.isFinite else { return SampledToken(id: id, logprob: logits[id] == maxLogit ? 0 : -.infinity) }
        // log Z = max + ln sum exp(logit - max), reusing the draw's sum when it had temperature 1.
        let logNormaliser = Double(maxLogit) + log(sumOfWeightsAtTemperatureOne ?? Self.sumOfWeights(logits, maxLogit: maxLogit))
        func logprob(_ id: Int) -> Float { Float(Double(logits[id]) - logNormaliser) }
        let top = Self.largest(topCount, of: logits).map { SampledToken.Alternative(id: $0, logprob: logprob($0)) }
        return SampledToken(id: id, logprob: logprob(id), topLogprobs: top)
    }

    /// Ids of the `count` largest logits, largest first, ties to the lower id. O(vocabulary x
    /// count) in the worst case, but almost every logit fails the first comparison.
    static func largest(_ count: Int, of logits: UnsafeBufferPointer<Float>) -> [Int] {
        guard count > 0 else { return [] }
        var ids: [Int] = []  // sorted: largest first
        ids.reserveCapacity(count + 1)
        for index in logits.indices {
            let value = logits[index]
            guard value == value else { continue }
            if ids.count == count {
                // Scanning in increasing id, an equal value never beats an earlier one.
                guard value > logits[ids[count - 1]] else { continue }
                ids.removeLast()
            }
            var position = ids.count
            while position > 0 && value > logits[ids[position - 1]] { position -= 1 }
            ids.insert(index, at: position)
        }
        return ids
    }
}
