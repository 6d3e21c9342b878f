import Foundation
import KilnBackend
import KilnCore
import KilnModels
import KilnTokenizer

/// One request's generation on one model, start to finish: chunked prefill of the prompt into a
/// paged KV cache, then one decode step per token, sampling, incremental detokenization and stop
/// rules. The serving engine (with a scheduler and many requests) builds on the same pieces.
public final class TextGenerator<B: Backend>: @unchecked Sendable {
    /// The model.
    public let model: DecoderModel<B>
    /// Detokenizes output and supplies EOS ids; nil for random-weight models (ids only).
    public let tokenizer: (any Tokenizer)?
    /// Tokens per KV cache block.
    public let blockSize: Int
    /// Most prompt tokens run in one forward step (bounds activation memory).
    public let prefillChunk: Int

    /// Creates a generator.
    public init(model: DecoderModel<B>, tokenizer: (any Tokenizer)?, blockSize: Int = 16, prefillChunk: Int = 512) {
        self.model = model
        self.tokenizer = tokenizer
        self.blockSize = blockSize
        self.prefillChunk = prefillChunk
    }

    /// Generates from `promptIDs`. `onToken` receives each sampled token and the text it
    /// completes (possibly empty while a UTF-8 character or a possible stop string is pending).
    public func generate(promptIDs: [Int], parameters: SamplingParameters,
                         onToken: (SampledToken, String) -> Void = { _, _ in }) throws -> GenerationResult {
        try parameters.validate()
        let config = model.config
        guard !promptIDs.isEmpty else { throw KilnError.invalidArgument("the prompt is empty: give at least one token") }
        if let bad = promptIDs.first(where: { $0 < 0 || $0 >= config.vocabularySize }) {
            throw KilnError.invalidArgument("prompt token id \(bad) is outside the vocabulary (0..<\(config.vocabularySize))")
        }
        guard promptIDs.count < config.contextLength else {
            throw KilnError.invalidArgument("the prompt has \(promptIDs.count) tokens but the model's context is \(config.contextLength): shorten it")
        }
        var parameters = parameters
        parameters.maxTokens = min(parameters.maxTokens, config.contextLength - promptIDs.count)

        let totalTokens = promptIDs.count + parameters.maxTokens
        let blocks = (totalTokens + blockSize - 1) / blockSize
        let cache = try model.backend.makeCache(model.cacheShape(blocks: blocks, blockSize: blockSize))
        let blockTable = Array(0..<blocks)

        var sampler = Sampler(parameters: parameters, promptTokenIDs: promptIDs)
        var stops = StopChecker(parameters: parameters, modelStopTokenIDs: tokenizer?.specialTokens.stopIDs ?? Set(config.eosTokenIDs))
        var detokenizer = tokenizer.map { IncrementalDetokenizer(tokenizer: $0) }

        // Plain greedy requests take the argmax where the logits are, plain draws (no penalties,
        // no logprobs) are drawn there when the backend samples: only the id is read back.
        func step(_ batch: ForwardBatch) throws -> StepResult {
            if parameters.isPlainGreedy { return .token(try model.forwardGreedy(batch, cache: cache)[0]) }
            if parameters.isPlainDraw {
                // One 64-bit draw a step, as the host sampler takes; it takes none for a row with
                // no distribution (all -inf, a +inf logit), which the kernel treats as greedy while
                // this draw is still taken: a seeded request can then diverge from the host path.
                var draw = sampler
                let unit = draw.nextUnit()
                let result = try model.forwardSampling(batch, cache: cache, parameters: [parameters], units: [unit])
                if let id = result.ids?.first {
                    draw.accept(id)
                    sampler = draw
                    return .token(id)
                }
                return .logits(result.logits[0]) // the host samples (and draws its own unit)
            }
            return .logits(try model.forward(batch, cache: cache)[0])
        }

        let prefillStart = Date()
        var result = StepResult.logits([])
        var position = 0
        while position < promptIDs.count {
            let chunk = Array(promptIDs[position..<min(promptIDs.count, position + prefillChunk)])
            let batch = ForwardBatch.single(tokens: chunk, startPosition: position, blockTable: blockTable, blockSize: blockSize)
            position += chunk.count
            if position < promptIDs.count {
                _ = try model.forwardGreedy(batch, cache: cache) // an earlier chunk: only its K/V matter (no draw taken)
            } else {
                result = try step(batch)
            }
        }
        let prefillSeconds = Date().timeIntervalSince(prefillStart)

        let decodeStart = Date()
        var outputIDs: [Int] = []
        var sampled: [SampledToken] = []
        var text = ""
        var finish: FinishReason = .length
        /// Takes the next token; true when generation ends with it.
        func accept(_ token: SampledToken) -> Bool {
            outputIDs.append(token.id)
            sampled.append(token)
            let delta = detokenizer?.append(token.id) ?? ""
            var outcome = stops.append(tokenID: token.id, text: delta)
            if outcome.isFinished, stops.finishReason == .length, let rest = detokenizer?.finish() {
                outcome.text += rest // flush a trailing partial character at the length limit
            }
            text += outcome.text
            onToken(token, outcome.text)
            if let reason = outcome.finishReason {
                finish = reason
                return true
            }
            return false
        }
        /// The decode step taking output token `index` (0-based; `token`, a placeholder when fed
        /// on the backend) at position prompt length + `index`.
        func decodeBatch(_ token: Int, index: Int) -> ForwardBatch {
            .single(tokens: [token], startPosition: promptIDs.count + index, blockTable: blockTable, blockSize: blockSize)
        }
        /// The decode step taking the newest token.
        func nextBatch(_ token: Int) -> ForwardBatch { decodeBatch(token, index: outputIDs.count - 1) }

        if parameters.isPlainGreedy, model.backend.queuesSteps, case let .token(first) = result {
            // Queued greedy decoding: the step taking token k + 1 is queued (its token fed from
            // step k's ids on the device) before token k is read, so the host's round trip
            // overlaps the GPU. A step queued past a stop token is run and dropped.
            if !accept(SampledToken(id: first)) {
                var inFlight = try model.queueGreedy(nextBatch(first), cache: cache)
                while true {
                    // Queue the step after inFlight's, unless the length limit ends generation first.
                    let ahead = outputIDs.count + 1 < parameters.maxTokens
                        ? try model.queueGreedy(decodeBatch(0, index: outputIDs.count), cache: cache, tokens: inFlight)
                        : nil
                    let id = try model.backend.tokenIDs(inFlight)[0]
                    if accept(SampledToken(id: id)) {
                        if let ahead { _ = try model.backend.tokenIDs(ahead) } // its work is done before the cache goes
                        break
                    }
                    guard let ahead else { throw KilnError.invalidArgument("queued decoding: no step queued before the length limit") }
                    inFlight = ahead
                }
            }
        } else {
            while true {
                let token: SampledToken
                switch result {
                case let .token(id): token = SampledToken(id: id) // already recorded by the sampler when drawn
                case let .logits(logits): token = sampler.sample(logits: logits)
                }
                if accept(token) { break }
                result = try step(nextBatch(token.id))
            }
        }
        let decodeSeconds = Date().timeIntervalSince(decodeStart)
        return GenerationResult(promptIDs: promptIDs, outputIDs: outputIDs, tokens: sampled, text: text,
                                finishReason: finish, prefillSeconds: prefillSeconds, decodeSeconds: decodeSeconds)
    }
}

/// One step's output: the logits of its last token, or (plain greedy) the chosen id.
enum StepResult {
    case logits([Float])
    case token(Int)
}

/// What one generation produced, with its timings.
public struct GenerationResult: Sendable {
    /// The prompt's token ids.
    public let promptIDs: [Int]
    /// Generated ids, including a final EOS/stop token when generation ended on one.
    public let outputIDs: [Int]
    /// Each generated token with its logprobs (when asked for).
    public let tokens: [SampledToken]
    /// Generated text, stop strings and what follows them removed.
    public let text: String
    /// Why generation ended.
    public let finishReason: FinishReason
    /// Time to process the prompt (time to first token, less sampling).
    public let prefillSeconds: Double
    /// Time from the first sampled token to the end.
    public let decodeSeconds: Double

    /// Decode throughput: tokens after the first over the decode time.
    public var decodeTokensPerSecond: Double {
        outputIDs.count > 1 && decodeSeconds > 0 ? Double(outputIDs.count - 1) / decodeSeconds : 0
    }
}
