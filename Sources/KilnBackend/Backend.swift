import KilnCore

/// The operations a decoder-only transformer needs, implemented once per device (CPU, CUDA).
/// Model code in `KilnModels` is written against this protocol only.
///
/// Activations are 2-D `[rows, columns]` tensors (rows = tokens of the batch). Weights keep
/// their checkpoint storage (dense or quantised blocks); a backend may repack them at load.
/// The KV cache is paged: attention reads it through each sequence's block table.
/// Every op may throw (a device backend reports launch and memory errors); the CPU's never do.
public protocol Backend: AnyObject, Sendable {
    /// A device activation tensor.
    associatedtype Tensor
    /// A device weight (any storage).
    associatedtype Weight
    /// A device paged KV cache.
    associatedtype Cache

    /// "cpu", "cuda:0".
    var name: String { get }

    /// Makes a device weight from its checkpoint bytes.
    func loadWeight(_ source: WeightSource) throws -> Weight
    /// Makes a device fp32 vector weight from host values (norm weights after offsets, biases).
    func loadVector(_ values: [Float], name: String) throws -> Weight
    /// A zeroed `[rows, columns]` activation.
    func makeTensor(rows: Int, columns: Int) throws -> Tensor
    /// A zeroed paged KV cache.
    func makeCache(_ shape: KVCacheShape) throws -> Cache

    /// Called once at the start of every step with the step's batch, before any op: a device
    /// backend uploads the batch's tokens, positions, slots and block tables here, once.
    func prepare(_ batch: ForwardBatch) throws
    /// out[t] = table[tokens[t]] * scale. out: `[tokens, columns]`.
    func embed(tokens: [Int], table: Weight, scale: Float, into out: Tensor) throws
    /// out[t] = x[t] / rms(x[t]) * weight, per row. x, out: `[rows, columns]`.
    func rmsNorm(_ x: Tensor, weight: Weight, epsilon: Float, into out: Tensor) throws
    /// RMSNorm of each head of each row in place. x: `[rows, heads * headDim]`, weight `[headDim]`.
    func headRMSNorm(_ x: Tensor, heads: Int, headDim: Int, weight: Weight, epsilon: Float) throws
    /// out = x · weightᵀ (+ bias). x: `[rows, in]`, weight `[out, in]`, out `[rows, out]`.
    func linear(_ x: Tensor, weight: Weight, bias: Weight?, into out: Tensor) throws
    /// accumulator += x, elementwise.
    func add(_ x: Tensor, into accumulator: Tensor) throws
    /// out = act(gate) * up, elementwise.
    func gatedActivation(gate: Tensor, up: Tensor, activation: GateActivation, into out: Tensor) throws
    /// Rotates each head of each row in place by its token's position. x: `[rows, heads * headDim]`.
    func rope(_ x: Tensor, heads: Int, headDim: Int, positions: [Int], parameters: RopeParameters) throws
    /// Writes `keys`/`values` (`[tokens, kvHeads * headDim]`) to `layer` of the cache at `slots`.
    func writeCache(_ cache: Cache, layer: Int, keys: Tensor, values: Tensor, slots: [Int]) throws
    /// Causal attention of `query` (`[tokens, heads * headDim]`) over the cached K/V of `layer`,
    /// per sequence of `batch`. out: `[tokens, heads * headDim]`.
    func attention(query: Tensor, cache: Cache, layer: Int, batch: ForwardBatch, parameters: AttentionParameters, into out: Tensor) throws
    /// x = cap * tanh(x / cap), in place.
    func softcap(_ x: Tensor, cap: Float) throws
    /// out[i] = x[rows[i]]. out: `[rows.count, columns]`.
    func gatherRows(_ x: Tensor, rows: [Int], into out: Tensor) throws
    /// The tensor's values on the host, row-major.
    func read(_ x: Tensor) throws -> [Float]

    /// residual += x, then out = RMSNorm(residual) · weight: a sublayer's residual add fused with
    /// the next sublayer's norm. All `[rows, columns]`.
    func addRMSNorm(residual: Tensor, _ x: Tensor, weight: Weight, epsilon: Float, into out: Tensor) throws
    /// Joins matrices of equal width into one whose rows are theirs in order (gate rows, then up
    /// rows), when one product beats several on this backend; nil keeps the parts (the CPU keeps
    /// each weight in its checkpoint storage, which may differ between the parts).
    func concatenateRows(_ parts: [Weight]) throws -> Weight?
    /// out = act(x · gateᵀ) * (x · upᵀ) for a weight from `concatenateRows([gate, up])`,
    /// `[2 * mlp, in]`. x: `[rows, in]`, out: `[rows, mlp]`.
    func gatedLinear(_ x: Tensor, gateUp: Weight, activation: GateActivation, into out: Tensor) throws
    /// One layer's attention input from a Q/K/V weight joined by `concatenateRows([query, key,
    /// value])` (and its joined bias): the product, then QK-norm of each query and key head (when
    /// the norms are given), RoPE at the batch's positions, the keys and values written to `layer`
    /// of `cache` at the batch's slots, and the queries into `query` (`[tokens, heads * headDim]`).
    /// The same as three `linear`s, `headRMSNorm`, `rope` on q and k, and `writeCache`.
    func attentionInput(_ x: Tensor, qkv: Weight, bias: Weight?, queryNorm: Weight?, keyNorm: Weight?, epsilon: Float,
                        attention: AttentionParameters, rope: RopeParameters, batch: ForwardBatch,
                        cache: Cache, layer: Int, query: Tensor) throws
    /// `attentionInput`, then `attention` of its queries over `layer` of `cache` into `out`
    /// (`[tokens, heads * headDim]`), as one op, so a backend may form the queries and the new
    /// keys inside its attention kernel (CUDA, decode batches). `query`'s contents afterwards are
    /// unspecified.
    func attentionWithInput(_ x: Tensor, qkv: Weight, bias: Weight?, queryNorm: Weight?, keyNorm: Weight?, epsilon: Float,
                            attention: AttentionParameters, rope: RopeParameters, batch: ForwardBatch,
                            cache: Cache, layer: Int, query: Tensor, into out: Tensor) throws
    /// Runs one step: `body` queues the step's ops and returns its output. The backend calls
    /// `prepare(batch)` first; it may record the ops the first times it meets a step shape and
    /// replay the recording for later steps of that shape without calling `body` (the output is
    /// then the recorded step's tensor, holding this step's values).
    func runStep(_ batch: ForwardBatch, cache: Cache, recording: StepRecording, _ body: () throws -> Tensor) throws -> Tensor
    /// Forgets every recorded step of `owner` (a model being deinitialised).
    func releaseRecordings(owner: ObjectIdentifier)
    /// One token drawn from each of `x`'s rows (`columns` wide) where the logits are, with each
    /// row's temperature (> 0), top-k, top-p and min-p, from `units[row]` in [0, 1) (the request's
    /// own random stream); nil when this backend does not sample (the caller then reads the
    /// logits and samples on the host).
    func sampleRows(_ x: Tensor, columns: Int, parameters: [SamplingParameters], units: [Double]) throws -> [Int]?
    /// For each of `x`'s rows (`columns` wide), the index of its largest value: the lowest index
    /// among equals, NaN never chosen (0 for a row of NaN and -inf).
    func argmaxRows(_ x: Tensor, columns: Int) throws -> [Int]

    /// Whether `queueArgmaxRows` returns before its ids are known and `feedTokens` works: greedy
    /// loops then queue the next step before reading this one's ids (TextGenerator,
    /// StaticBatchRunner). False (the default): they wait for every step's ids.
    var queuesSteps: Bool { get }
    /// `argmaxRows`, queued: the ids stay where they were chosen until `tokenIDs` reads them.
    func queueArgmaxRows(_ x: Tensor, columns: Int) throws -> QueuedTokens
    /// The ids of a queued argmax (waits for them).
    func tokenIDs(_ queued: QueuedTokens) throws -> [Int]
    /// The next step (`runStep` or `prepare`) takes its batch's token ids from `queued`, which has
    /// one id per row of that batch, instead of the batch's own `tokens` (placeholders then).
    /// Only when `queuesSteps`.
    func feedTokens(_ queued: QueuedTokens) throws
}

/// What a backend needs to know to record a step and replay it safely.
public struct StepRecording: Sendable, Hashable {
    /// The model queuing the step (its weights' addresses are part of a recording).
    public var owner: ObjectIdentifier
    /// The longest sequence the model takes, in tokens.
    public var contextLimit: Int

    /// Creates a description.
    public init(owner: ObjectIdentifier, contextLimit: Int) {
        self.owner = owner
        self.contextLimit = contextLimit
    }
}

extension Backend {
    public func addRMSNorm(residual: Tensor, _ x: Tensor, weight: Weight, epsilon: Float, into out: Tensor) throws {
        try add(x, into: residual)
        try rmsNorm(residual, weight: weight, epsilon: epsilon, into: out)
    }

    public func concatenateRows(_ parts: [Weight]) throws -> Weight? { nil }

    public func gatedLinear(_ x: Tensor, gateUp: Weight, activation: GateActivation, into out: Tensor) throws {
        throw KilnError.unsupported(path: name, reason: "gatedLinear without concatenated gate/up weights")
    }

    public func attentionInput(_ x: Tensor, qkv: Weight, bias: Weight?, queryNorm: Weight?, keyNorm: Weight?, epsilon: Float,
                               attention: AttentionParameters, rope: RopeParameters, batch: ForwardBatch,
                               cache: Cache, layer: Int, query: Tensor) throws {
        throw KilnError.unsupported(path: name, reason: "attentionInput without a joined Q/K/V weight")
    }

    public func attentionWithInput(_ x: Tensor, qkv: Weight, bias: Weight?, queryNorm: Weight?, keyNorm: Weight?, epsilon: Float,
                                   attention parameters: AttentionParameters, rope: RopeParameters, batch: ForwardBatch,
                                   cache: Cache, layer: Int, query: Tensor, into out: Tensor) throws {
        try attentionInputThenAttention(x, qkv: qkv, bias: bias, queryNorm: queryNorm, keyNorm: keyNorm, epsilon: epsilon,
                                        attention: parameters, rope: rope, batch: batch, cache: cache, layer: layer, query: query,
                                        into: out)
    }

    /// `attentionWithInput` as its two ops: the default, and the fallback of a backend that fuses
    /// them only for some batches (a conforming type's own method cannot call the default).
    public func attentionInputThenAttention(_ x: Tensor, qkv: Weight, bias: Weight?, queryNorm: Weight?, keyNorm: Weight?,
                                            epsilon: Float, attention parameters: AttentionParameters, rope: RopeParameters,
                                            batch: ForwardBatch, cache: Cache, layer: Int, query: Tensor, into out: Tensor) throws {
        try attentionInput(x, qkv: qkv, bias: bias, queryNorm: queryNorm, keyNorm: keyNorm, epsilon: epsilon, attention: parameters,
                           rope: rope, batch: batch, cache: cache, layer: layer, query: query)
        try attention(query: query, cache: cache, layer: layer, batch: batch, parameters: parameters, into: out)
    }

    public func runStep(_ batch: ForwardBatch, cache: Cache, recording: StepRecording, _ body: () throws -> Tensor) throws -> Tensor {
        try prepare(batch)
        return try body()
    }

    public func sampleRows(_ x: Tensor, columns: Int, parameters: [SamplingParameters], units: [Double]) throws -> [Int]? { nil }

    public func releaseRecordings(owner: ObjectIdentifier) {}

    public var queuesSteps: Bool { false }

    public func queueArgmaxRows(_ x: Tensor, columns: Int) throws -> QueuedTokens {
        QueuedTokens(ids: try argmaxRows(x, columns: columns))
    }

    public func tokenIDs(_ queued: QueuedTokens) throws -> [Int] {
        guard let ids = queued.ids else { throw QueuedTokens.foreign(to: name) }
        return ids
    }

    public func feedTokens(_ queued: QueuedTokens) throws {
        throw KilnError.unsupported(path: name, reason: "taking a step's tokens from queued ids (queuesSteps is false)")
    }

    public func argmaxRows(_ x: Tensor, columns: Int) throws -> [Int] {
        let values = try read(x)
        guard columns > 0 else { return [] }
        return stride(from: 0, to: values.count, by: columns).map { start in
            var best = 0
            var bestValue = -Float.infinity
            for i in 0..<columns where values[start + i] > bestValue {
                best = i
                bestValue = values[start + i]
            }
            return best
        }
    }
}
