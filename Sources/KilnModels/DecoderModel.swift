import Foundation
import KilnBackend
import KilnCore

/// A decoder-only transformer of any supported family on any backend: weights loaded once,
/// then `forward` runs one `ForwardBatch` step against a paged KV cache and returns logits.
public final class DecoderModel<B: Backend>: @unchecked Sendable {
    /// The model's config.
    public let config: ModelConfig
    /// The family's distinguishing traits.
    public let architecture: ModelArchitecture
    /// The backend the weights live on.
    public let backend: B
    let embedding: B.Weight
    let output: B.Weight
    let finalNorm: B.Weight
    let layers: [DecoderLayerWeights<B.Weight>]
    let globalRope: RopeParameters
    let localRope: RopeParameters

    /// Loads every weight of `provider` onto `backend`. Fails with the name of a missing or
    /// mis-shaped tensor.
    public init(provider: any WeightProvider, backend: B) throws {
        let config = provider.config
        self.config = config
        self.backend = backend
        let architecture = try ModelArchitecture.forConfig(config)
        self.architecture = architecture
        if let scaling = config.ropeScaling, !["linear", "llama3"].contains(scaling.type) {
            throw KilnError.unsupported(path: config.modelType, reason: "RoPE scaling '\(scaling.type)'")
        }
        let gguf = provider.usesGGUFConventions
        let normOffset: Float = architecture.normAddsOne && !gguf ? 1 : 0

        func required(_ weight: LogicalWeight) throws -> WeightSource {
            guard let source = try provider.source(weight) else {
                throw KilnError.invalidArgument("checkpoint has no tensor for \(weight) (\(config.modelType))")
            }
            return source
        }
        func matrix(_ weight: LogicalWeight, rows: Int, columns: Int) throws -> B.Weight {
            let source = try required(weight)
            guard source.shape == [rows, columns] else {
                throw KilnError.invalidArgument("tensor \(source.name) has shape \(source.shape), expected [\(rows), \(columns)]")
            }
            return try backend.loadWeight(source)
        }
        func vectorValues(_ weight: LogicalWeight, length: Int, optional: Bool = false) throws -> (values: [Float], name: String)? {
            guard let source = try provider.source(weight) else {
                if optional { return nil }
                throw KilnError.invalidArgument("checkpoint has no tensor for \(weight) (\(config.modelType))")
            }
            guard source.shape == [length] else {
                throw KilnError.invalidArgument("tensor \(source.name) has shape \(source.shape), expected [\(length)]")
            }
            var values = try source.floats()
            if weight.isNorm && normOffset != 0 { values = values.map { $0 + normOffset } }
            return (values, source.name)
        }
        func vector(_ weight: LogicalWeight, length: Int, optional: Bool = false) throws -> B.Weight? {
            guard let (values, name) = try vectorValues(weight, length: length, optional: optional) else { return nil }
            return try backend.loadVector(values, name: name)
        }

        let hidden = config.hiddenSize, qWidth = config.attentionHeads * config.headDim
        let kvWidth = config.kvHeads * config.headDim, mlp = config.intermediateSize
        embedding = try matrix(.embedding, rows: config.vocabularySize, columns: hidden)
        if try provider.source(.output) != nil, !config.tieWordEmbeddings || gguf {
            output = try matrix(.output, rows: config.vocabularySize, columns: hidden)
        } else {
            output = embedding
        }
        finalNorm = try vector(.finalNorm, length: hidden)!
        layers = try (0..<config.layerCount).map { i in
            let gate = try matrix(.gate(layer: i), rows: mlp, columns: hidden)
            let up = try matrix(.up(layer: i), rows: mlp, columns: hidden)
            // One product for both halves where the backend gains from it (GPU decode: one pass
            // over the weights with the activation fused).
            let gateUp = try backend.concatenateRows([gate, up])
            // Likewise Q/K/V: one product, then one kernel for QK-norm, RoPE and the cache write.
            let query = try matrix(.query(layer: i), rows: qWidth, columns: hidden)
            let key = try matrix(.key(layer: i), rows: kvWidth, columns: hidden)
            let value = try matrix(.value(layer: i), rows: kvWidth, columns: hidden)
            let qkv = try backend.concatenateRows([query, key, value])
            let biases = [try vectorValues(.queryBias(layer: i), length: qWidth, optional: true),
                          try vectorValues(.keyBias(layer: i), length: kvWidth, optional: true),
                          try vectorValues(.valueBias(layer: i), length: kvWidth, optional: true)]
            // The joined bias: zeros for a part without one (some checkpoints bias only Q and V).
            let qkvBias = qkv != nil && biases.contains { $0 != nil }
                ? try backend.loadVector(zip(biases, [qWidth, kvWidth, kvWidth]).flatMap { $0?.values ?? Array(repeating: 0, count: $1) },
                                         name: "layers.\(i).qkv.bias") : nil
            return DecoderLayerWeights(
                attentionNorm: try vector(.attentionNorm(layer: i), length: hidden)!,
                query: qkv == nil ? query : nil,
                key: qkv == nil ? key : nil,
                value: qkv == nil ? value : nil,
                qkv: qkv,
                qkvBias: qkvBias,
                attentionOutput: try matrix(.attentionOutput(layer: i), rows: hidden, columns: qWidth),
                queryBias: try qkv == nil ? biases[0].map { try backend.loadVector($0.values, name: $0.name) } : nil,
                keyBias: try qkv == nil ? biases[1].map { try backend.loadVector($0.values, name: $0.name) } : nil,
                valueBias: try qkv == nil ? biases[2].map { try backend.loadVector($0.values, name: $0.name) } : nil,
                queryNorm: architecture.hasQueryKeyNorm ? try vector(.queryNorm(layer: i), length: config.headDim) : nil,
                keyNorm: architecture.hasQueryKeyNorm ? try vector(.keyNorm(layer: i), length: config.headDim) : nil,
                postAttentionNorm: architecture.hasPostNorms ? try vector(.postAttentionNorm(layer: i), length: hidden) : nil,
                feedForwardNorm: try vector(.feedForwardNorm(layer: i), length: hidden)!,
                gate: gateUp == nil ? gate : nil,
                up: gateUp == nil ? up : nil,
                gateUp: gateUp,
                down: try matrix(.down(layer: i), rows: hidden, columns: mlp),
                postFeedForwardNorm: architecture.hasPostNorms ? try vector(.postFeedForwardNorm(layer: i), length: hidden) : nil,
                isSliding: config.slidingLayers.isEmpty ? false : config.slidingLayers[i])
        }

        // GGUF Llama weights are permuted for interleaved RoPE; everything else pairs halves.
        let style: RopeStyle = gguf && (config.modelType == "llama" || config.modelType == "mistral") ? .interleaved : .halves
        var globalFrequencies = RopeFrequencies.inverse(dim: config.headDim, base: config.ropeTheta, scaling: config.ropeScaling)
        if let divisors = try provider.source(.ropeFrequencies) {
            // llama.cpp bakes Llama 3.1 scaling into per-pair divisors instead of config keys.
            let values = try divisors.floats()
            if config.ropeScaling == nil, values.count == globalFrequencies.count {
                globalFrequencies = zip(globalFrequencies, values).map { $0 / $1 }
            }
        }
        globalRope = RopeParameters(inverseFrequencies: globalFrequencies, style: style)
        let localBase = config.ropeLocalTheta ?? config.ropeTheta
        localRope = config.ropeLocalTheta == nil ? globalRope
            : RopeParameters(inverseFrequencies: RopeFrequencies.inverse(dim: config.headDim, base: localBase, scaling: nil), style: style)
    }

    deinit { backend.releaseRecordings(owner: ObjectIdentifier(self)) }

    /// The KV cache shape for `blocks` blocks of `blockSize` tokens.
    public func cacheShape(blocks: Int, blockSize: Int) -> KVCacheShape {
        KVCacheShape(layers: config.layerCount, blocks: blocks, blockSize: blockSize, kvHeads: config.kvHeads, headDim: config.headDim)
    }

    /// Runs one step: writes the batch's K/V into `cache` and returns the logits of
    /// `batch.logitRows`, `[logitRows.count][vocabularySize]`.
    public func forward(_ batch: ForwardBatch, cache: B.Cache) throws -> [[Float]] {
        try hostRows(try logitsTensor(batch, cache: cache), count: batch.logitRows.count)
    }

    /// The logits tensor read back as `count` rows of `vocabularySize`.
    private func hostRows(_ logits: B.Tensor, count: Int) throws -> [[Float]] {
        let flat = try backend.read(logits)
        let vocabulary = config.vocabularySize
        return (0..<count).map { Array(flat[($0 * vocabulary)..<(($0 + 1) * vocabulary)]) }
    }

    /// Runs one step like `forward` and returns the greedy token of each logit row (the largest
    /// logit, lowest id among equals), chosen on the device: only the ids leave it.
    public func forwardGreedy(_ batch: ForwardBatch, cache: B.Cache) throws -> [Int] {
        try backend.argmaxRows(try logitsTensor(batch, cache: cache), columns: config.vocabularySize)
    }

    /// `forwardGreedy`, queued: the step's ids stay on the backend until `backend.tokenIDs` reads
    /// them. `tokens`: the batch's token ids are those queued ids (one per row; `batch.tokens`
    /// are then placeholders), so this step can be queued before the previous one's ids are
    /// read. Only where `backend.queuesSteps` when `tokens` is given.
    public func queueGreedy(_ batch: ForwardBatch, cache: B.Cache, tokens: QueuedTokens? = nil) throws -> QueuedTokens {
        if let tokens { try backend.feedTokens(tokens) }
        return try backend.queueArgmaxRows(try logitsTensor(batch, cache: cache), columns: config.vocabularySize)
    }

    /// Runs one step like `forward` and draws each logit row's token on the backend with its
    /// request's parameters and unit (see `Backend.sampleRows`); nil ids (and the logits instead)
    /// when the backend does not sample.
    public func forwardSampling(_ batch: ForwardBatch, cache: B.Cache, parameters: [SamplingParameters],
                                units: [Double]) throws -> (ids: [Int]?, logits: [[Float]]) {
        let logits = try logitsTensor(batch, cache: cache)
        let vocabulary = config.vocabularySize
        if let ids = try backend.sampleRows(logits, columns: vocabulary, parameters: parameters, units: units) { return (ids, []) }
        return (nil, try hostRows(logits, count: batch.logitRows.count))
    }

    /// The step's logits `[logitRows.count, vocabularySize]` on the backend (possibly a recorded
    /// step's replay).
    func logitsTensor(_ batch: ForwardBatch, cache: B.Cache) throws -> B.Tensor {
        try backend.runStep(batch, cache: cache, recording: StepRecording(owner: ObjectIdentifier(self), contextLimit: config.contextLength)) {
            try queueStep(batch, cache: cache)
        }
    }

    /// Queues every op of one step (after `prepare`) and returns the logits tensor.
    func queueStep(_ batch: ForwardBatch, cache: B.Cache) throws -> B.Tensor {
        let tokens = batch.tokens.count
        let hidden = config.hiddenSize, headDim = config.headDim
        let heads = config.attentionHeads, kvHeads = config.kvHeads
        let b = backend

        let residual = try b.makeTensor(rows: tokens, columns: hidden)      // [tokens, hidden]
        try b.embed(tokens: batch.tokens, table: embedding,
                scale: architecture.scalesEmbedding ? Float(hidden).squareRoot() : 1, into: residual)
        let normed = try b.makeTensor(rows: tokens, columns: hidden)        // [tokens, hidden]
        let query = try b.makeTensor(rows: tokens, columns: heads * headDim)  // [tokens, heads * headDim]
        // Separate K/V tensors only when Q/K/V are separate products (else they go straight to the cache).
        let fusedInput = layers.first?.qkv != nil
        let key = try b.makeTensor(rows: fusedInput ? 0 : tokens, columns: kvHeads * headDim)  // [tokens, kvHeads * headDim]
        let value = try b.makeTensor(rows: fusedInput ? 0 : tokens, columns: kvHeads * headDim)
        let attended = try b.makeTensor(rows: tokens, columns: heads * headDim)
        let projected = try b.makeTensor(rows: tokens, columns: hidden)
        let gate = try b.makeTensor(rows: tokens, columns: config.intermediateSize) // [tokens, mlp]
        let up = layers.first?.gateUp == nil ? try b.makeTensor(rows: tokens, columns: config.intermediateSize) : gate
        let scalar = config.queryPreAttentionScalar ?? Float(headDim)
        let epsilon = config.rmsNormEpsilon
        // Every row's logits in row order (decode steps): the last layer's residual add is fused
        // with the final norm, straight into `normed` (no gather of all rows, no separate add).
        let everyRow = !layers.isEmpty && batch.logitRows.elementsEqual(0..<tokens)

        for (index, layer) in layers.enumerated() {
            // Later layers get `normed` from the previous layer's fused residual add + norm.
            if index == 0 { try b.rmsNorm(residual, weight: layer.attentionNorm, epsilon: epsilon, into: normed) }
            let rope = layer.isSliding ? localRope : globalRope
            let parameters = AttentionParameters(
                heads: heads, kvHeads: kvHeads, headDim: headDim, scale: 1 / scalar.squareRoot(),
                slidingWindow: layer.isSliding ? config.slidingWindow : nil, softcap: config.attentionLogitSoftcap)
            if let qkv = layer.qkv {
                try b.attentionWithInput(normed, qkv: qkv, bias: layer.qkvBias, queryNorm: layer.queryNorm, keyNorm: layer.keyNorm,
                                         epsilon: epsilon, attention: parameters, rope: rope, batch: batch, cache: cache, layer: index,
                                         query: query, into: attended)
            } else if let queryWeight = layer.query, let keyWeight = layer.key, let valueWeight = layer.value {
                try b.linear(normed, weight: queryWeight, bias: layer.queryBias, into: query)
                try b.linear(normed, weight: keyWeight, bias: layer.keyBias, into: key)
                try b.linear(normed, weight: valueWeight, bias: layer.valueBias, into: value)
                if let queryNorm = layer.queryNorm, let keyNorm = layer.keyNorm {
                    try b.headRMSNorm(query, heads: heads, headDim: headDim, weight: queryNorm, epsilon: epsilon)
                    try b.headRMSNorm(key, heads: kvHeads, headDim: headDim, weight: keyNorm, epsilon: epsilon)
                }
                try b.rope(query, heads: heads, headDim: headDim, positions: batch.positions, parameters: rope)
                try b.rope(key, heads: kvHeads, headDim: headDim, positions: batch.positions, parameters: rope)
                try b.writeCache(cache, layer: index, keys: key, values: value, slots: batch.slots)
                try b.attention(query: query, cache: cache, layer: index, batch: batch, parameters: parameters, into: attended)
            }
            try b.linear(attended, weight: layer.attentionOutput, bias: nil, into: projected)
            if let norm = layer.postAttentionNorm {
                try b.rmsNorm(projected, weight: norm, epsilon: epsilon, into: projected)
            }
            try b.addRMSNorm(residual: residual, projected, weight: layer.feedForwardNorm, epsilon: epsilon, into: normed)
            if let gateUp = layer.gateUp {
                try b.gatedLinear(normed, gateUp: gateUp, activation: architecture.activation, into: gate)
            } else if let gateWeight = layer.gate, let upWeight = layer.up {
                try b.linear(normed, weight: gateWeight, bias: nil, into: gate)
                try b.linear(normed, weight: upWeight, bias: nil, into: up)
                try b.gatedActivation(gate: gate, up: up, activation: architecture.activation, into: gate)
            }
            try b.linear(gate, weight: layer.down, bias: nil, into: projected)
            if let norm = layer.postFeedForwardNorm {
                try b.rmsNorm(projected, weight: norm, epsilon: epsilon, into: projected)
            }
            if index + 1 < layers.count {
                try b.addRMSNorm(residual: residual, projected, weight: layers[index + 1].attentionNorm, epsilon: epsilon, into: normed)
            } else if everyRow {
                try b.addRMSNorm(residual: residual, projected, weight: finalNorm, epsilon: epsilon, into: normed)
            } else {
                try b.add(projected, into: residual)
            }
        }

        let selected: B.Tensor
        if everyRow {
            selected = normed
        } else {
            selected = try b.makeTensor(rows: batch.logitRows.count, columns: hidden)
            try b.gatherRows(residual, rows: batch.logitRows, into: selected)
            try b.rmsNorm(selected, weight: finalNorm, epsilon: epsilon, into: selected)
        }
        let logits = try b.makeTensor(rows: batch.logitRows.count, columns: config.vocabularySize)
        try b.linear(selected, weight: output, bias: nil, into: logits)
        if let cap = config.finalLogitSoftcap { try b.softcap(logits, cap: cap) }
        return logits
    }
}
