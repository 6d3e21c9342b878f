import KilnBackend
import KilnCore

/// The fused attention input (attention_input.cu): one Q/K/V product into a scratch
/// `[tokens, (heads + 2 kvHeads) * headDim]` tensor (a GEMV for decode batches, cuBLASLt above),
/// then one kernel for QK-norm, RoPE and the K/V cache write. Replaces three products and three
/// to five small kernels per layer.
extension CUDABackend {
    public func attentionInput(_ x: DeviceTensor, qkv: CUDAWeight, bias: CUDAWeight?, queryNorm: CUDAWeight?, keyNorm: CUDAWeight?,
                               epsilon: Float, attention: AttentionParameters, rope: RopeParameters, batch: ForwardBatch,
                               cache: CUDAKVCache, layer: Int, query: DeviceTensor) throws {
        let step = try currentStep(rows: batch.tokens.count)
        let headDim = attention.headDim, heads = attention.heads, kvHeads = attention.kvHeads
        let width = (heads + 2 * kvHeads) * headDim
        precondition(qkv.rows == width && query.rows == x.rows && query.columns >= heads * headDim
                     && cache.shape.kvHeads == kvHeads && cache.shape.headDim == headDim,
                     "attentionInput: qkv [\(qkv.rows), \(qkv.columns)] for \(heads)/\(kvHeads) heads of \(headDim)")
        guard x.rows > 0 else { return }
        let fused = try makeTensor(rows: x.rows, columns: width)
        try linear(x, weight: qkv, bias: bias, into: fused)
        if profileSkips.contains(.attentionInput) { return }
        let pairs = rope.inverseFrequencies.count
        let table = try ropeTable(rope.inverseFrequencies)
        // Two heads a block: a decode row's 10-40 heads spread over 5-20 SMs (one 8-warp block per
        // token took 7.6 us a layer at batch 1 on an H100).
        let warps = 2, headGroups = (heads + 2 * kvHeads + warps - 1) / warps
        var arguments = KernelArguments()
        arguments.pointer(fused.buffer)
        arguments.int32(width)
        arguments.pointer(query.buffer)
        arguments.int32(query.columns)
        arguments.pointer(cache.keys[layer])
        arguments.pointer(cache.values[layer])
        arguments.address(step.slots)
        arguments.address(step.positions)
        arguments.pointer(queryNorm?.buffer)
        arguments.pointer(keyNorm?.buffer)
        arguments.float(epsilon)
        arguments.pointer(table)
        arguments.int32(pairs)
        arguments.int32(heads)
        arguments.int32(kvHeads)
        arguments.int32(headDim)
        let style = rope.style == .halves ? "halves" : "interleaved"
        try stream.launch(try kernels.function("attention_input_\(style)_\(query.elementType.suffix)"), grid: (x.rows, headGroups, 1),
                          block: (32 * warps, 1, 1), sharedBytes: 4 * (warps * headDim + 2 * pairs), arguments: arguments)
    }
}
