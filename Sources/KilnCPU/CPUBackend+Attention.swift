import Foundation
import KilnBackend

extension CPUBackend {
    /// For each sequence, each new token t at position p and each query head h:
    /// out[t, h] = Σ_j softmax_j(scale · q[t, h] · K[j, h / group]) · V[j, h / group]
    /// over cached positions j in (p - window, p], read through the sequence's block table.
    public func attention(query: CPUTensor, cache: CPUKVCache, layer: Int, batch: ForwardBatch,
                          parameters: AttentionParameters, into out: CPUTensor) {
        let heads = parameters.heads, headDim = parameters.headDim
        let group = heads / parameters.kvHeads
        let blockSize = cache.shape.blockSize, width = cache.slotWidth
        let keys = cache.keys[layer], values = cache.values[layer]
        // Work items: (sequence, token-in-batch, head), flattened.
        var items: [(sequence: Int, row: Int)] = []
        for (index, sequence) in batch.sequences.enumerated() {
            for row in sequence.tokenStart..<(sequence.tokenStart + sequence.tokenCount) { items.append((index, row)) }
        }
        ParallelFor.run(items.count * heads) { range in
            var scores = [Float]()
            for work in range {
                let (sequenceIndex, row) = items[work / heads]
                let head = work % heads
                let sequence = batch.sequences[sequenceIndex]
                let position = batch.positions[row]
                let first = parameters.slidingWindow.map { max(0, position - $0 + 1) } ?? 0
                let q = query.row(row) + head * headDim
                let kvOffset = (head / group) * headDim
                scores.removeAll(keepingCapacity: true)
                var maximum = -Float.infinity
                for key in first...position {
                    let slot = sequence.blockTable[key / blockSize] * blockSize + key % blockSize
                    var score = VectorMath.dot(q, keys + slot * width + kvOffset, count: headDim) * parameters.scale
                    if let cap = parameters.softcap { score = cap * Foundation.tanh(score / cap) }
                    scores.append(score)
                    maximum = max(maximum, score)
                }
                var total: Float = 0
                for index in scores.indices {
                    scores[index] = Foundation.exp(scores[index] - maximum)
                    total += scores[index]
                }
                let output = out.row(row) + head * headDim
                output.initialize(repeating: 0, count: headDim)
                for (index, key) in (first...position).enumerated() {
                    let slot = sequence.blockTable[key / blockSize] * blockSize + key % blockSize
                    VectorMath.axpy(scores[index] / total, values + slot * width + kvOffset, output, count: headDim)
                }
            }
        }
    }
}
