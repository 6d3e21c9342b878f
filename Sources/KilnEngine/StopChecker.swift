import KilnCore
import KilnTokenizer

/// What ended a request's generation, with OpenAI's names for the two kinds.
public enum FinishReason: Sendable, Equatable, Hashable {
    /// A stop condition matched (OpenAI "stop").
    case stop(StopCause)
    /// The token limit was reached (OpenAI "length").
    case length

    /// The OpenAI `finish_reason` string: "stop" or "length".
    public var openAIName: String {
        switch self {
        case .stop: return "stop"
        case .length: return "length"
        }
    }
}

/// Which stop condition ended generation (vLLM's `stop_reason`).
public enum StopCause: Sendable, Equatable, Hashable {
    /// One of the model's own end tokens (EOS, end of turn), from the tokenizer's `stopIDs`.
    case endOfSequence(tokenID: Int)
    /// One of the request's `stopTokenIDs`.
    case stopTokenID(Int)
    /// One of the request's `stopStrings`; the text returned ends just before it.
    case stopString(String)
}

/// Decides, token by token, whether a request stops, and which text may be streamed so far.
///
/// Stop strings may span tokens, so text that could be the start of one is held back until the
/// next tokens show it is not; the stream never contains any part of a matched stop string, and
/// everything after it is dropped. Matching is on Unicode scalars (exact, no normalisation),
/// done on UTF-8 bytes, which is the same thing for valid text. When several stop strings
/// match, the one that ends first in the text wins (then the one that starts first), which makes
/// the result independent of how the text is split into tokens.
///
/// Order of checks for each token: the request's stop ids, the model's stop ids (unless
/// `ignoreEOS`), stop strings, then the token limit; a token that both ends the budget and
/// completes a stop reports the stop. A stop token's own text is not returned, as in vLLM.
public struct StopChecker: Sendable {
    /// Text to stream after one token, and whether the request has finished.
    public struct Outcome: Sendable, Equatable {
        /// Text that is now final (may be empty while text is held back).
        public var text: String
        /// Why generation finished; nil: continue.
        public var finishReason: FinishReason?

        /// Creates an outcome.
        public init(text: String, finishReason: FinishReason?) {
            self.text = text
            self.finishReason = finishReason
        }

        /// Whether generation has finished.
        public var isFinished: Bool { finishReason != nil }
    }

    /// Most tokens to generate.
    public let maxTokens: Int
    /// The request's stop ids; they apply even with `ignoreEOS`.
    private let requestStopIDs: Set<Int>
    /// The model's end tokens; empty when the request ignores EOS.
    private let modelStopIDs: Set<Int>
    /// The stop strings as given, and as UTF-8.
    private let stopStrings: [String]
    private let stopBytes: [[UInt8]]
    /// UTF-8 received but not yet returned: at most the longest stop string minus one byte,
    /// always a suffix that some stop string starts with.
    private var held: [UInt8] = []
    /// Tokens seen so far.
    public private(set) var tokenCount = 0
    /// Why generation finished; nil while it continues.
    public private(set) var finishReason: FinishReason?

    /// Creates the checker of one request. `modelStopTokenIDs` are the model's end tokens,
    /// normally the tokenizer's `specialTokens.stopIDs`.
    public init(parameters: SamplingParameters, modelStopTokenIDs: Set<Int>) {
        maxTokens = parameters.maxTokens
        requestStopIDs = Set(parameters.stopTokenIDs)
        modelStopIDs = parameters.ignoreEOS ? [] : modelStopTokenIDs
        stopStrings = parameters.stopStrings.filter { !$0.isEmpty }
        stopBytes = stopStrings.map { Array($0.utf8) }
    }

    /// Creates the checker of one request, stopping at the tokenizer's end tokens (EOS and
    /// end of turn).
    public init(parameters: SamplingParameters, specialTokens: SpecialTokens) {
        self.init(parameters: parameters, modelStopTokenIDs: specialTokens.stopIDs)
    }

    /// Whether generation has finished.
    public var isFinished: Bool { finishReason != nil }

    /// Takes the next generated token and the text its detokenisation added; returns the text
    /// that is now safe to stream and whether to stop. After a finish it returns nothing more.
    public mutating func append(tokenID: Int, text: String) -> Outcome {
        if let finishReason { return Outcome(text: "", finishReason: finishReason) }
        tokenCount += 1
        if requestStopIDs.contains(tokenID) { return finish(.stop(.stopTokenID(tokenID))) }
        if modelStopIDs.contains(tokenID) { return finish(.stop(.endOfSequence(tokenID: tokenID))) }
        guard !stopBytes.isEmpty else {
            if tokenCount >= maxTokens { finishReason = .length }
            return Outcome(text: text, finishReason: finishReason)
        }
        held.append(contentsOf: text.utf8)
        if let (start, index) = firstStopMatch() {
            let before = String(decoding: held[..<start], as: UTF8.self)
            held.removeAll()
            finishReason = .stop(.stopString(stopStrings[index]))
            return Outcome(text: before, finishReason: finishReason)
        }
        if tokenCount >= maxTokens { return finish(.length) }
        let keep = heldBackLength()
        let ready = String(decoding: held[..<(held.count - keep)], as: UTF8.self)
        held.removeFirst(held.count - keep)
        return Outcome(text: ready, finishReason: nil)
    }

    /// Ends generation for a reason found outside the checker (the context window is full, the
    /// request was aborted) and returns the held-back text, which can no longer become a stop
    /// string. Does nothing, returning the first reason, if already finished.
    public mutating func finish(_ reason: FinishReason) -> Outcome {
        if let finishReason { return Outcome(text: "", finishReason: finishReason) }
        finishReason = reason
        let rest = String(decoding: held, as: UTF8.self)
        held.removeAll()
        return Outcome(text: rest, finishReason: reason)
    }

    /// The stop string that ends first in `held` (ties: the longest, which starts first):
    /// where it starts and its index. `held` had no match before this token's text, so any
    /// match ends in the new text; scanning all of `held` is still cheap, as it stays short.
    private func firstStopMatch() -> (start: Int, index: Int)? {
        guard !held.isEmpty else { return nil }
        for end in 1...held.count {
            var best: (start: Int, index: Int)?
            for (index, stop) in stopBytes.enumerated() where stop.count <= end {
                let start = end - stop.count
                if best.map({ start < $0.start }) ?? true, held[start..<end].elementsEqual(stop) {
                    best = (start, index)
                }
            }
            if let best { return best }
        }
        return nil
    }

    /// Length of the longest suffix of `held` that is a proper prefix of some stop string.
    /// It starts on a scalar boundary because a stop string never starts with a continuation
    /// byte, so the text before it decodes whole.
    private func heldBackLength() -> Int {
        let longest = min(held.count, (stopBytes.map(\.count).max() ?? 1) - 1)
        guard longest > 0 else { return 0 }
        for length in stride(from: longest, through: 1, by: -1) {
            let suffix = held[(held.count - length)...]
            if stopBytes.contains(where: { $0.count > length && $0.starts(with: suffix) }) { return length }
        }
        return 0
    }
}
