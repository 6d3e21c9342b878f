import Foundation
import KilnBackend
import KilnCore

/// The CPU reference backend: fp32 activations, weights decoded from their checkpoint storage
/// a row at a time, loops that read like the maths, parallel over output rows or heads.
public final class CPUBackend: Backend, @unchecked Sendable {
    public typealias Tensor = CPUTensor
    public typealias Weight = CPUWeight
    public typealias Cache = CPUKVCache

    /// Creates the backend.
    public init() {}

    /// For checks of the greedy loops' queued path (CUDA's, without a GPU): greedy ids are
    /// computed at once but handed out unread (`QueuedTokens` resolved only by `tokenIDs`), and
    /// `feedTokens` replaces the next step's tokens, as CUDABackend+QueuedSteps.swift does.
    public var queuesStepsForChecks = false
    /// Most steps queued and not yet read at one time (checks: 2 when the loop queues ahead).
    public private(set) var mostUnreadSteps = 0
    private var unreadSteps = 0
    /// The next step's fed ids, and the current step's (embed takes them over the batch's).
    private var fedTokens: [Int]?
    private var stepTokens: [Int]?

    public var queuesSteps: Bool { queuesStepsForChecks }

    public func queueArgmaxRows(_ x: CPUTensor, columns: Int) throws -> QueuedTokens {
        let ids = try argmaxRows(x, columns: columns)
        stepTokens = nil // the step is over: later direct embeds take their own tokens
        guard queuesStepsForChecks else { return QueuedTokens(ids: ids) }
        unreadSteps += 1
        mostUnreadSteps = max(mostUnreadSteps, unreadSteps)
        return QueuedTokens(rows: ids.count, pending: UnreadIDs(ids))
    }

    public func tokenIDs(_ queued: QueuedTokens) throws -> [Int] {
        if let ids = queued.ids { return ids }
        guard let unread = queued.pending as? UnreadIDs else { throw QueuedTokens.foreign(to: name) }
        unreadSteps -= 1
        queued.resolve(unread.ids)
        return unread.ids
    }

    public func feedTokens(_ queued: QueuedTokens) throws {
        guard queuesStepsForChecks else {
            throw KilnError.unsupported(path: name, reason: "taking a step's tokens from queued ids (queuesSteps is false)")
        }
        guard let ids = queued.ids ?? (queued.pending as? UnreadIDs)?.ids else {
            throw QueuedTokens.foreign(to: name)
        }
        fedTokens = ids
    }

    /// Ids of a queued step not yet read.
    final class UnreadIDs {
        let ids: [Int]
        init(_ ids: [Int]) { self.ids = ids }
    }

    public var name: String { "cpu (\(ParallelFor.threads) threads)" }

    public func loadWeight(_ source: WeightSource) throws -> CPUWeight {
        if case let .ggml(type) = source.storage, !type.canDequantize {
            throw KilnError.unsupported(path: source.name, reason: "weight storage \(type.name) cannot be decoded on the CPU")
        }
        return try CPUWeight(source: source)
    }

    public func loadVector(_ values: [Float], name: String) throws -> CPUWeight {
        CPUWeight(values: values)
    }

    public func makeTensor(rows: Int, columns: Int) -> CPUTensor {
        CPUTensor(rows: rows, columns: columns)
    }

    public func makeCache(_ shape: KVCacheShape) throws -> CPUKVCache {
        CPUKVCache(shape: shape)
    }

    /// Nothing to upload: the CPU reads the batch's host arrays directly.
    public func prepare(_ batch: ForwardBatch) {
        stepTokens = fedTokens
        fedTokens = nil
    }

    public func embed(tokens: [Int], table: CPUWeight, scale: Float, into out: CPUTensor) {
        precondition(out.rows == tokens.count && out.columns == table.columns)
        let tokens = stepTokens ?? tokens
        precondition(out.rows == tokens.count, "embed: \(tokens.count) fed ids for \(out.rows) rows")
        for (row, token) in tokens.enumerated() {
            let destination = out.row(row)
            table.decodeRow(token, into: destination)
            if scale != 1 {
                for index in 0..<out.columns { destination[index] *= scale }
            }
        }
    }

    public func rmsNorm(_ x: CPUTensor, weight: CPUWeight, epsilon: Float, into out: CPUTensor) {
        let columns = x.columns
        weight.floats!.withUnsafeBufferPointer { gamma in
            for row in 0..<x.rows {
                let input = x.row(row), output = out.row(row)
                let meanSquare = VectorMath.dot(input, input, count: columns) / Float(columns)
                let inverse = 1 / (meanSquare + epsilon).squareRoot()
                for index in 0..<columns { output[index] = input[index] * inverse * gamma[index] }
            }
        }
    }

    public func headRMSNorm(_ x: CPUTensor, heads: Int, headDim: Int, weight: CPUWeight, epsilon: Float) {
        weight.floats!.withUnsafeBufferPointer { gamma in
            for row in 0..<x.rows {
                for head in 0..<heads {
                    let vector = x.row(row) + head * headDim
                    let meanSquare = VectorMath.dot(vector, vector, count: headDim) / Float(headDim)
                    let inverse = 1 / (meanSquare + epsilon).squareRoot()
                    for index in 0..<headDim { vector[index] = vector[index] * inverse * gamma[index] }
                }
            }
        }
    }

    public func linear(_ x: CPUTensor, weight: CPUWeight, bias: CPUWeight?, into out: CPUTensor) {
        let inputs = x.columns, outputs = weight.rows, tokens = x.rows
        precondition(weight.columns == inputs && out.columns == outputs && out.rows == tokens,
                     "linear: x [\(tokens), \(inputs)] · w [\(outputs), \(weight.columns)] -> out [\(out.rows), \(out.columns)]")
        let biasValues = bias?.floats
        // Each worker decodes a weight row once into its scratch and applies it to every token.
        ParallelFor.run(outputs, minimumChunk: 16) { range in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: inputs)
            defer { scratch.deallocate() }
            for outputIndex in range {
                weight.decodeRow(outputIndex, into: scratch)
                let offset = biasValues?[outputIndex] ?? 0
                for token in 0..<tokens {
                    out.row(token)[outputIndex] = VectorMath.dot(x.row(token), scratch, count: inputs) + offset
                }
            }
        }
    }

    public func add(_ x: CPUTensor, into accumulator: CPUTensor) {
        precondition(x.rows == accumulator.rows && x.columns == accumulator.columns)
        VectorMath.axpy(1, x.data, accumulator.data, count: x.rows * x.columns)
    }

    public func gatedActivation(gate: CPUTensor, up: CPUTensor, activation: GateActivation, into out: CPUTensor) {
        let count = gate.rows * gate.columns
        switch activation {
        case .silu:
            for index in 0..<count {
                let g = gate.data[index]
                out.data[index] = g / (1 + Foundation.exp(-g)) * up.data[index]
            }
        case .geluTanh:
            let root2OverPi: Float = 0.7978845608028654
            for index in 0..<count {
                let g = gate.data[index]
                let inner = root2OverPi * (g + 0.044715 * g * g * g)
                out.data[index] = 0.5 * g * (1 + Foundation.tanh(inner)) * up.data[index]
            }
        }
    }

    public func rope(_ x: CPUTensor, heads: Int, headDim: Int, positions: [Int], parameters: RopeParameters) {
        let pairs = parameters.inverseFrequencies.count
        let half = headDim / 2
        for row in 0..<x.rows {
            let position = Float(positions[row])
            // cos/sin of each pair's angle, computed once per token for all heads.
            var cosines = [Float](repeating: 0, count: pairs), sines = [Float](repeating: 0, count: pairs)
            for pair in 0..<pairs {
                let angle = position * parameters.inverseFrequencies[pair]
                cosines[pair] = Foundation.cos(angle)
                sines[pair] = Foundation.sin(angle)
            }
            for head in 0..<heads {
                let vector = x.row(row) + head * headDim
                for pair in 0..<pairs {
                    let (first, second) = parameters.style == .halves ? (pair, pair + (pairs == half ? half : pairs)) : (2 * pair, 2 * pair + 1)
                    let a = vector[first], b = vector[second]
                    vector[first] = a * cosines[pair] - b * sines[pair]
                    vector[second] = b * cosines[pair] + a * sines[pair]
                }
            }
        }
    }

    public func writeCache(_ cache: CPUKVCache, layer: Int, keys: CPUTensor, values: CPUTensor, slots: [Int]) {
        let width = cache.slotWidth
        precondition(keys.columns == width && values.columns == width && keys.rows == slots.count)
        for (row, slot) in slots.enumerated() {
            (cache.keys[layer] + slot * width).update(from: keys.row(row), count: width)
            (cache.values[layer] + slot * width).update(from: values.row(row), count: width)
        }
    }

    public func softcap(_ x: CPUTensor, cap: Float) {
        for index in 0..<(x.rows * x.columns) { x.data[index] = cap * Foundation.tanh(x.data[index] / cap) }
    }

    public func gatherRows(_ x: CPUTensor, rows: [Int], into out: CPUTensor) {
        for (index, row) in rows.enumerated() { out.row(index).update(from: x.row(row), count: x.columns) }
    }

    public func read(_ x: CPUTensor) -> [Float] {
        Array(UnsafeBufferPointer(start: x.data, count: x.rows * x.columns))
    }
}
