import Foundation
import KilnBackend
import KilnCore

/// Decode attention with the attention input formed inside the attention kernel
/// (`attention_decode_input_*` in attention_decode_input.cu): the Q/K/V product, then one kernel that
/// normalises and rotates the queries and the new keys, writes the new K/V to the cache and
/// attends, instead of attention_input + attention_decode (one launch fewer a layer: the
/// attention input cost 6.8 us a layer inside a batch-1 Gemma-2B decode step on an H100).
extension CUDABackend {
    public func attentionWithInput(_ x: DeviceTensor, qkv: CUDAWeight, bias: CUDAWeight?, queryNorm: CUDAWeight?, keyNorm: CUDAWeight?,
                                   epsilon: Float, attention parameters: AttentionParameters, rope: RopeParameters,
                                   batch: ForwardBatch, cache: CUDAKVCache, layer: Int, query: DeviceTensor,
                                   into out: DeviceTensor) throws {
        guard Self.fusesDecodeInput(batch, parameters: parameters, pairs: rope.inverseFrequencies.count, elementType: x.elementType),
              fusesDecodeInputs, profileSkips.isDisjoint(with: [.attention, .attentionInput]) else {
            // (Profiling runs that leave out one of the two take the separate kernels, so that
            // exactly that one is left out.)
            return try attentionInputThenAttention(x, qkv: qkv, bias: bias, queryNorm: queryNorm, keyNorm: keyNorm, epsilon: epsilon,
                                                   attention: parameters, rope: rope, batch: batch, cache: cache, layer: layer,
                                                   query: query, into: out)
        }
        let step = try currentStep(rows: batch.tokens.count)
        let headDim = parameters.headDim, heads = parameters.heads, kvHeads = parameters.kvHeads
        let width = (heads + 2 * kvHeads) * headDim
        precondition(qkv.rows == width && cache.shape.kvHeads == kvHeads && cache.shape.headDim == headDim,
                     "attentionWithInput: qkv [\(qkv.rows), \(qkv.columns)] for \(heads)/\(kvHeads) heads of \(headDim)")
        let fused = try makeTensor(rows: x.rows, columns: width)
        try linear(x, weight: qkv, bias: bias, into: fused)
        let table = try ropeTable(rope.inverseFrequencies)
        try decodeAttention(query: query, cache: cache, layer: layer, batch: batch, step: step, parameters: parameters, into: out,
                            input: FusedDecodeInput(qkv: fused, queryNorm: queryNorm?.buffer, keyNorm: keyNorm?.buffer,
                                                    epsilon: epsilon, table: table, pairs: rope.inverseFrequencies.count,
                                                    interleaved: rope.style != .halves))
    }

    /// Whether a step's attention input can be formed in the decode kernel: bf16, a decode batch
    /// whose rows each bring their sequence's newest token (position = context length - 1, so
    /// the new key is the last one the row sees), a head size the tuned kernels take, and at most
    /// headDim / 2 rotated pairs.
    public static func fusesDecodeInput(_ batch: ForwardBatch, parameters: AttentionParameters, pairs: Int, elementType: DeviceElementType) -> Bool {
        guard elementType == .bf16, [64, 128, 256].contains(parameters.headDim), 2 * pairs <= parameters.headDim,
              !batch.sequences.isEmpty, isDecode(batch) else { return false }
        return batch.sequences.indices.allSatisfy { batch.positions[$0] == batch.sequences[$0].contextLength - 1 }
    }
}

/// What the fused decode kernel reads to form its attention input (DecodeInput in attention_decode.cuh).
struct FusedDecodeInput {
    /// The Q/K/V product `[rows, (heads + 2 kvHeads) * headDim]`.
    var qkv: DeviceTensor
    var queryNorm: DeviceBuffer?
    var keyNorm: DeviceBuffer?
    var epsilon: Float
    /// RoPE inverse frequencies, fp32 `[pairs]`.
    var table: DeviceBuffer
    var pairs: Int
    var interleaved: Bool
}
