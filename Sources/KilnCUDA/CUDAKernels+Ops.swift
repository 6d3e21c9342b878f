import KilnBackend
import KilnCore

/// Launchers of the kernels, one per `Backend` operation they implement (the CPU twin of each is
/// `CPUBackend`'s method of the same name). Every launch is queued on `stream`; shapes are checked
/// here, on the host, so a kernel never sees an inconsistent one.
extension CUDAKernels {
    /// Threads for one block per row: about `perThread` elements each, a whole number of warps,
    /// 32...1024.
    static func rowThreads(_ columns: Int, perThread: Int = 4) -> Int {
        let threads = (columns + perThread - 1) / perThread
        return min(1024, max(32, (threads + 31) / 32 * 32))
    }

    /// Whether bf16 rows of `x` read as 16-byte groups of 8 in every one of `buffers`: columns % 8
    /// == 0 and 16-byte aligned addresses (argmax_partial_bf16_vec8).
    static func rowsMoveAsEightBF16Groups(_ x: DeviceTensor, buffers: [DeviceBuffer]) -> Bool {
        x.elementType == .bf16 && x.columns % 8 == 0 && buffers.allSatisfy { $0.address % 16 == 0 }
    }

    /// Whether the row kernels' `_vec8` forms apply: rows in groups of 8 that one block covers at 8
    /// a thread (columns <= 8192).
    static func rowsMoveAsEightBF16(_ x: DeviceTensor, buffers: [DeviceBuffer]) -> Bool {
        rowsMoveAsEightBF16Groups(x, buffers: buffers) && x.columns <= 8 * 1024
    }

    /// Blocks of 256 threads for a grid-stride loop over `count` elements: enough to fill the
    /// GPU, no more.
    func elementwiseBlocks(_ count: Int) -> Int {
        max(1, min((count + 255) / 256, device.multiprocessors * 16))
    }

    /// out[t] = table[tokens[t]] * scale. tokens: `[count]` int32 ids below `vocabulary`;
    /// table: `[vocabulary, out.columns]` of `tableType`; out: `[count, columns]`.
    public func embed(tokens: DeviceBuffer, table: DeviceBuffer, tableType: DeviceElementType, vocabulary: Int,
                      scale: Float, into out: DeviceTensor, on stream: CUDAStream) throws {
        precondition(tokens.byteCount >= out.rows * 4, "embed: ids smaller than [\(out.rows)]")
        try embed(tokens: tokens.address, table: table, tableType: tableType, vocabulary: vocabulary, scale: scale, into: out, on: stream)
    }

    /// `embed` with the ids at a device address (a slice of a step's packed buffer).
    public func embed(tokens: CUdeviceptr, table: DeviceBuffer, tableType: DeviceElementType, vocabulary: Int,
                      scale: Float, into out: DeviceTensor, on stream: CUDAStream) throws {
        precondition(table.byteCount >= vocabulary * out.columns * tableType.byteSize,
                     "embed: a table smaller than [\(vocabulary), \(out.columns)]")
        guard out.rows > 0, out.columns > 0 else { return }
        var arguments = KernelArguments()
        arguments.address(tokens)
        arguments.pointer(table)
        arguments.pointer(out.buffer)
        arguments.int32(out.columns)
        arguments.int32(vocabulary)
        arguments.float(scale)
        try stream.launch(try function("embed_\(tableType.suffix)_\(out.elementType.suffix)"),
                          grid: (out.rows, 1, 1), block: (Self.rowThreads(out.columns), 1, 1), arguments: arguments)
    }

    /// out = x / rms(x) * weight per row. weight: fp32 `[columns]`; out may be x.
    public func rmsNorm(_ x: DeviceTensor, weight: DeviceBuffer, epsilon: Float, into out: DeviceTensor, on stream: CUDAStream) throws {
        precondition(x.rows == out.rows && x.columns == out.columns && x.elementType == out.elementType && weight.byteCount >= x.columns * 4,
                     "rmsNorm: x [\(x.rows), \(x.columns)] \(x.elementType), out [\(out.rows), \(out.columns)] \(out.elementType), weight \(weight.byteCount) bytes")
        guard x.rows > 0, x.columns > 0 else { return }
        var arguments = KernelArguments()
        arguments.pointer(x.buffer)
        arguments.pointer(weight)
        arguments.pointer(out.buffer)
        arguments.int32(x.columns)
        arguments.float(epsilon)
        if Self.rowsMoveAsEightBF16(x, buffers: [x.buffer, out.buffer, weight]) {
            try stream.launch(try function("rms_norm_bf16_vec8"), grid: (x.rows, 1, 1),
                              block: (Self.rowThreads(x.columns, perThread: 8), 1, 1), arguments: arguments)
            return
        }
        try stream.launch(try function("rms_norm_\(x.elementType.suffix)"), grid: (x.rows, 1, 1),
                          block: (Self.rowThreads(x.columns), 1, 1), arguments: arguments)
    }

    /// residual += x, then out = RMSNorm(residual) (the add of one sublayer fused with the norm of
    /// the next). All three `[rows, columns]` of one element type.
    public func addRMSNorm(residual: DeviceTensor, _ x: DeviceTensor, weight: DeviceBuffer, epsilon: Float,
                           into out: DeviceTensor, on stream: CUDAStream) throws {
        // The kernel takes the three as non-aliasing (__restrict__).
        precondition(residual.buffer !== x.buffer && residual.buffer !== out.buffer && x.buffer !== out.buffer,
                     "addRMSNorm: residual, x and out must be three different tensors")
        precondition(residual.rows == x.rows && residual.columns == x.columns && out.rows == x.rows && out.columns == x.columns
                     && residual.elementType == x.elementType && out.elementType == x.elementType && weight.byteCount >= x.columns * 4,
                     "addRMSNorm: residual, x and out must share one shape and type")
        guard x.rows > 0, x.columns > 0 else { return }
        var arguments = KernelArguments()
        arguments.pointer(residual.buffer)
        arguments.pointer(x.buffer)
        arguments.pointer(weight)
        arguments.pointer(out.buffer)
        arguments.int32(x.columns)
        arguments.float(epsilon)
        if Self.rowsMoveAsEightBF16(x, buffers: [residual.buffer, x.buffer, out.buffer, weight]) {
            try stream.launch(try function("add_rms_norm_bf16_vec8"), grid: (x.rows, 1, 1),
                              block: (Self.rowThreads(x.columns, perThread: 8), 1, 1), arguments: arguments)
            return
        }
        try stream.launch(try function("add_rms_norm_\(x.elementType.suffix)"), grid: (x.rows, 1, 1),
                          block: (Self.rowThreads(x.columns), 1, 1), arguments: arguments)
    }

    /// RMSNorm of each head of each row in place (QK-norm). x: `[rows, >= heads * headDim]`,
    /// weight: fp32 `[headDim]`.
    public func headRMSNorm(_ x: DeviceTensor, heads: Int, headDim: Int, weight: DeviceBuffer, epsilon: Float, on stream: CUDAStream) throws {
        precondition(heads * headDim <= x.columns && weight.byteCount >= headDim * 4, "headRMSNorm: \(heads) heads of \(headDim) in rows of \(x.columns)")
        guard x.rows > 0, heads > 0, headDim > 0 else { return }
        let warps = x.rows * heads, warpsPerBlock = 4
        var arguments = KernelArguments()
        arguments.pointer(x.buffer)
        arguments.pointer(weight)
        arguments.int32(x.rows)
        arguments.int32(heads)
        arguments.int32(headDim)
        arguments.int32(x.columns)
        arguments.float(epsilon)
        try stream.launch(try function("head_rms_norm_\(x.elementType.suffix)"), grid: ((warps + warpsPerBlock - 1) / warpsPerBlock, 1, 1),
                          block: (32 * warpsPerBlock, 1, 1), arguments: arguments)
    }

    /// Rotates the first `pairs` pairs of each head in place by its row's position.
    /// x: `[rows, >= heads * headDim]`; positions: `[rows]` int32; inverseFrequencies: fp32 `[pairs]`,
    /// pairs <= headDim / 2.
    public func rope(_ x: DeviceTensor, heads: Int, headDim: Int, positions: DeviceBuffer, inverseFrequencies: DeviceBuffer,
                     pairs: Int, style: RopeStyle, on stream: CUDAStream) throws {
        precondition(positions.byteCount >= x.rows * 4, "rope: positions smaller than [\(x.rows)]")
        try rope(x, heads: heads, headDim: headDim, positions: positions.address, inverseFrequencies: inverseFrequencies,
                 pairs: pairs, style: style, on: stream)
    }

    /// `rope` with the positions at a device address (a slice of a step's packed buffer).
    public func rope(_ x: DeviceTensor, heads: Int, headDim: Int, positions: CUdeviceptr, inverseFrequencies: DeviceBuffer,
                     pairs: Int, style: RopeStyle, on stream: CUDAStream) throws {
        precondition(heads * headDim <= x.columns && 2 * pairs <= headDim
                     && inverseFrequencies.byteCount >= pairs * 4, "rope: \(heads) heads of \(headDim), \(pairs) pairs, rows of \(x.columns)")
        guard x.rows > 0, heads > 0, pairs > 0 else { return }
        var arguments = KernelArguments()
        arguments.pointer(x.buffer)
        arguments.address(positions)
        arguments.pointer(inverseFrequencies)
        arguments.int32(heads)
        arguments.int32(headDim)
        arguments.int32(pairs)
        arguments.int32(x.columns)
        let name = style == .halves ? "rope_halves" : "rope_interleaved"
        try stream.launch(try function("\(name)_\(x.elementType.suffix)"), grid: (x.rows, 1, 1),
                          block: (Self.rowThreads(heads * pairs, perThread: 1), 1, 1), sharedBytes: 8 * pairs, arguments: arguments)
    }

    /// out = act(gate) * up, all `[rows, columns]` of one element type.
    public func gatedActivation(gate: DeviceTensor, up: DeviceTensor, activation: GateActivation, into out: DeviceTensor,
                                on stream: CUDAStream) throws {
        precondition(gate.rows == up.rows && gate.columns == up.columns && out.rows == gate.rows && out.columns == gate.columns
                     && gate.elementType == up.elementType && out.elementType == gate.elementType, "gatedActivation: shapes differ")
        guard gate.count > 0 else { return }
        var arguments = KernelArguments()
        arguments.pointer(gate.buffer)
        arguments.pointer(up.buffer)
        arguments.pointer(out.buffer)
        arguments.int32(gate.rows)
        arguments.int32(gate.columns)
        arguments.int32(gate.columns)
        arguments.int32(up.columns)
        arguments.int32(out.columns)
        let name = activation == .silu ? "gated_silu" : "gated_gelu_tanh"
        try stream.launch(try function("\(name)_\(gate.elementType.suffix)"), grid: Self.gatedGrid(rows: gate.rows, columns: gate.columns),
                          block: (256, 1, 1), arguments: arguments)
    }

    /// gated_*'s grid for 256 threads of 8 columns each: (column blocks, rows). Rows go in
    /// grid.y, at most 65,535 a launch (a step of more tokens than that is refused before).
    static func gatedGrid(rows: Int, columns: Int) -> (x: Int, y: Int, z: Int) {
        precondition(rows <= 65535, "gated activation over \(rows) rows: at most 65,535 tokens a step")
        return ((columns + 2047) / 2048, rows, 1)
    }

    /// x = cap * tanh(x / cap), in place.
    public func softcap(_ x: DeviceTensor, cap: Float, on stream: CUDAStream) throws {
        guard x.count > 0 else { return }
        var arguments = KernelArguments()
        arguments.pointer(x.buffer)
        arguments.int64(x.count)
        arguments.float(cap)
        try stream.launch(try function("softcap_\(x.elementType.suffix)"), grid: (elementwiseBlocks(x.count), 1, 1),
                          block: (256, 1, 1), arguments: arguments)
    }

    /// accumulator += x, elementwise.
    public func add(_ x: DeviceTensor, into accumulator: DeviceTensor, on stream: CUDAStream) throws {
        precondition(x.rows == accumulator.rows && x.columns == accumulator.columns && x.elementType == accumulator.elementType, "add: shapes differ")
        guard x.count > 0 else { return }
        var arguments = KernelArguments()
        arguments.pointer(x.buffer)
        arguments.pointer(accumulator.buffer)
        arguments.int64(x.count)
        try stream.launch(try function("add_\(x.elementType.suffix)"), grid: (elementwiseBlocks(x.count), 1, 1),
                          block: (256, 1, 1), arguments: arguments)
    }

    /// ids[r] = the index of row r's largest logit (lowest on ties, never NaN; 0 when the row is
    /// all -inf or NaN), values[r] its value. logits: `[rows, vocabulary]`; ids: int32 `[rows]`;
    /// values: fp32 `[rows]`.
    ///
    /// Rows of 16,384 or more with `scratch` given run as slices on many blocks, then a merge
    /// (same result; about 8x faster for a 256,000 vocabulary); else one block per row.
    public func argmax(_ logits: DeviceTensor, ids: DeviceBuffer, values: DeviceBuffer, scratch: DeviceAllocator? = nil,
                       on stream: CUDAStream) throws {
        precondition(ids.byteCount >= logits.rows * 4 && values.byteCount >= logits.rows * 4, "argmax: outputs smaller than [\(logits.rows)]")
        guard logits.rows > 0, logits.columns > 0 else { return }
        if let scratch, logits.columns >= 16384 {
            // bf16 rows in 16-byte groups read 8 logits a load: slices then start on a group.
            let vector = Self.rowsMoveAsEightBF16Groups(logits, buffers: [logits.buffer])
            let slice = 4096, firstParts = min(1024, (logits.columns + slice - 1) / slice)
            let sliceLength = vector ? ((logits.columns + firstParts - 1) / firstParts + 7) / 8 * 8 : (logits.columns + firstParts - 1) / firstParts
            let parts = (logits.columns + sliceLength - 1) / sliceLength
            let partialValues = try scratch.allocate(byteCount: logits.rows * parts * 4)
            let partialIndices = try scratch.allocate(byteCount: logits.rows * parts * 4)
            var arguments = KernelArguments()
            arguments.pointer(logits.buffer)
            arguments.int32(logits.columns)
            arguments.int64(logits.columns)
            arguments.int32(sliceLength)
            arguments.pointer(partialValues)
            arguments.pointer(partialIndices)
            try stream.launch(try function(vector ? "argmax_partial_bf16_vec8" : "argmax_partial_\(logits.elementType.suffix)"), grid: (parts, logits.rows, 1),
                              block: (256, 1, 1), arguments: arguments)
            var merge = KernelArguments()
            merge.pointer(partialValues)
            merge.pointer(partialIndices)
            merge.int32(parts)
            merge.pointer(ids)
            merge.pointer(values)
            try stream.launch(try function("argmax_merge_parts"), grid: (logits.rows, 1, 1), block: (32, 1, 1), arguments: merge)
            // The scratch goes back to the pool on return: later work on this stream may reuse it.
            return
        }
        var arguments = KernelArguments()
        arguments.pointer(logits.buffer)
        arguments.int32(logits.columns)
        arguments.int64(logits.columns)
        arguments.pointer(ids)
        arguments.pointer(values)
        try stream.launch(try function("argmax_\(logits.elementType.suffix)"), grid: (logits.rows, 1, 1),
                          block: (1024, 1, 1), arguments: arguments)
    }
}
