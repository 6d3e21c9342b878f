import Foundation
import KilnBackend
import KilnCore
import KilnModels

/// Greedy generation for a fixed batch of prompts, all decoded together: one prefill step holding
/// every prompt as its own sequence, then one step per output token with one new token per
/// sequence. The benchmark of `kiln bench static`, and a check that multi-sequence batches give
/// each sequence exactly what it would get alone.
public struct StaticBatchRunner<B: Backend> {
    /// The model.
    public let model: DecoderModel<B>
    /// Tokens per KV cache block.
    public let blockSize: Int

    /// Creates a runner.
    public init(model: DecoderModel<B>, blockSize: Int = 16) {
        self.model = model
        self.blockSize = blockSize
    }

    /// What a static run produced and how long it took.
    public struct Result: Sendable {
        /// Greedy output ids per prompt (`outputTokens` each; EOS is not a stop).
        public let outputs: [[Int]]
        /// Seconds of the prefill step (all prompts).
        public let prefillSeconds: Double
        /// Seconds of the decode steps.
        public let decodeSeconds: Double
        /// Output tokens per second over the whole run (prefill included), the usual static-batch figure.
        public let outputTokensPerSecond: Double
    }

    /// Runs `prompts` for `outputTokens` greedy tokens each.
    public func run(prompts: [[Int]], outputTokens: Int) throws -> Result {
        guard !prompts.isEmpty, prompts.allSatisfy({ !$0.isEmpty }), outputTokens >= 1 else {
            throw KilnError.invalidArgument("static batch: give at least one non-empty prompt and one output token")
        }
        let longest = prompts.map(\.count).max()! + outputTokens
        guard longest <= model.config.contextLength else {
            throw KilnError.invalidArgument("static batch: \(longest) tokens exceed the model's context of \(model.config.contextLength)")
        }
        let blocksPerSequence = (longest + blockSize - 1) / blockSize
        let cache = try model.backend.makeCache(model.cacheShape(blocks: blocksPerSequence * prompts.count, blockSize: blockSize))
        // Sequence s owns blocks [s * blocksPerSequence, (s + 1) * blocksPerSequence).
        let tables = prompts.indices.map { s in Array((s * blocksPerSequence)..<((s + 1) * blocksPerSequence)) }
        func slot(_ sequence: Int, _ position: Int) -> Int {
            tables[sequence][position / blockSize] * blockSize + position % blockSize
        }

        var tokens: [Int] = [], positions: [Int] = [], slots: [Int] = []
        var sequences: [ForwardBatch.Sequence] = [], logitRows: [Int] = []
        for (s, prompt) in prompts.enumerated() {
            sequences.append(.init(tokenStart: tokens.count, tokenCount: prompt.count, contextLength: prompt.count, blockTable: tables[s]))
            for (position, token) in prompt.enumerated() {
                tokens.append(token)
                positions.append(position)
                slots.append(slot(s, position))
            }
            logitRows.append(tokens.count - 1)
        }
        let start = Date()
        // Greedy ids are chosen on the backend (argmax where the logits are): only ids come back.
        var next = try model.forwardGreedy(ForwardBatch(tokens: tokens, positions: positions, slots: slots,
                                                        sequences: sequences, logitRows: logitRows), cache: cache)
        let prefillSeconds = Date().timeIntervalSince(start)
        var outputs = Array(repeating: [Int](), count: prompts.count)
        let decodeStart = Date()
        /// Decode step `step` (0-based): each sequence's output token `step` (`tokens`) at position
        /// prompt length + `step`.
        func decodeBatch(_ tokens: [Int], step: Int) -> ForwardBatch {
            ForwardBatch.decode(tokens: tokens, positions: prompts.map { $0.count + step }, blockTables: tables, blockSize: blockSize)
        }
        for s in prompts.indices { outputs[s].append(next[s]) }
        if outputTokens > 1 && model.backend.queuesSteps {
            // Queued: step k + 1 goes on the backend (its tokens fed from step k's ids there)
            // before step k's ids are read, so the host's round trip overlaps the GPU.
            var inFlight = try model.queueGreedy(decodeBatch(next, step: 0), cache: cache)
            for step in 1..<outputTokens {
                let ahead = step + 1 < outputTokens
                    ? try model.queueGreedy(decodeBatch(Array(repeating: 0, count: prompts.count), step: step), cache: cache, tokens: inFlight)
                    : nil
                let ids = try model.backend.tokenIDs(inFlight)
                for s in prompts.indices { outputs[s].append(ids[s]) }
                if let ahead { inFlight = ahead }
            }
        } else {
            for step in 0..<outputTokens {
                if step > 0 { for s in prompts.indices { outputs[s].append(next[s]) } }
                if step + 1 == outputTokens { break }
                next = try model.forwardGreedy(decodeBatch(next, step: step), cache: cache)
            }
        }
        let decodeSeconds = Date().timeIntervalSince(decodeStart)
        let total = prefillSeconds + decodeSeconds
        return Result(outputs: outputs, prefillSeconds: prefillSeconds, decodeSeconds: decodeSeconds,
                      outputTokensPerSecond: total > 0 ? Double(prompts.count * outputTokens) / total : 0)
    }
}
