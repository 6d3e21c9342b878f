/// Everything one model step needs, as one explicit value (no per-step globals): the tokens of
/// every scheduled sequence (prompt chunks and single decode tokens mixed), their positions,
/// where their K/V go in the paged cache, and each sequence's block table.
public struct ForwardBatch: Sendable, Equatable {
    /// One sequence's share of the batch.
    public struct Sequence: Sendable, Equatable {
        /// Rows of this sequence's tokens in the batch: `[start, start + count)`.
        public var tokenStart: Int
        /// Number of new tokens this step.
        public var tokenCount: Int
        /// Tokens in the cache once this step's K/V are written (previous context + new tokens).
        public var contextLength: Int
        /// Cache block ids holding positions `[i * blockSize, (i + 1) * blockSize)`.
        public var blockTable: [Int]

        /// Creates a sequence slice.
        public init(tokenStart: Int, tokenCount: Int, contextLength: Int, blockTable: [Int]) {
            self.tokenStart = tokenStart
            self.tokenCount = tokenCount
            self.contextLength = contextLength
            self.blockTable = blockTable
        }
    }

    /// Token ids, `[numTokens]`.
    public var tokens: [Int]
    /// Position of each token in its sequence, `[numTokens]`.
    public var positions: [Int]
    /// Cache slot (`block * blockSize + offset`) receiving each token's K/V, `[numTokens]`.
    public var slots: [Int]
    /// The sequences, in token order.
    public var sequences: [Sequence]
    /// Batch rows whose logits are wanted (usually the last token of each sequence).
    public var logitRows: [Int]

    /// Creates a batch.
    public init(tokens: [Int], positions: [Int], slots: [Int], sequences: [Sequence], logitRows: [Int]) {
        self.tokens = tokens
        self.positions = positions
        self.slots = slots
        self.sequences = sequences
        self.logitRows = logitRows
    }

    /// One decode token per sequence: sequence s's `tokens[s]` at `positions[s]`, its K/V cached
    /// through `blockTables[s]` (`blockSize`-token blocks); logits for every row.
    public static func decode(tokens: [Int], positions: [Int], blockTables: [[Int]], blockSize: Int) -> ForwardBatch {
        precondition(tokens.count == positions.count && tokens.count == blockTables.count, "decode: one token, position and table per sequence")
        return ForwardBatch(
            tokens: tokens, positions: positions,
            slots: positions.indices.map { blockTables[$0][positions[$0] / blockSize] * blockSize + positions[$0] % blockSize },
            sequences: positions.indices.map {
                Sequence(tokenStart: $0, tokenCount: 1, contextLength: positions[$0] + 1, blockTable: blockTables[$0])
            },
            logitRows: Array(positions.indices))
    }

    /// A batch of one sequence: `tokens` at positions `startPosition...`, cached with a
    /// contiguous block table (`blockTable`) of `blockSize`-token blocks; logits for the last token
    /// (or for every token when `allLogits`).
    public static func single(tokens: [Int], startPosition: Int, blockTable: [Int], blockSize: Int, allLogits: Bool = false) -> ForwardBatch {
        let positions = Array(startPosition..<(startPosition + tokens.count))
        let slots = positions.map { blockTable[$0 / blockSize] * blockSize + $0 % blockSize }
        let sequence = Sequence(tokenStart: 0, tokenCount: tokens.count, contextLength: startPosition + tokens.count, blockTable: blockTable)
        return ForwardBatch(tokens: tokens, positions: positions, slots: slots, sequences: [sequence],
                            logitRows: allLogits ? Array(0..<tokens.count) : [tokens.count - 1])
    }
}
