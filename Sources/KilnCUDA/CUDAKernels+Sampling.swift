import KilnCore

extension CUDAKernels {
    /// Threads per block of `sample_*`: one block per row; the kernel's radix passes and tile
    /// scans want as many threads as possible on a vocabulary of 10^5 tokens (its
    /// `__launch_bounds__` is 1024, so this cannot exceed it).
    static let samplingThreads = 1024
    /// Largest vocabulary: the kernel's 2^40 fixed-point masses sum below 2^63 up to 2^23 tokens.
    public static let maximumSamplingVocabulary = 1 << 23

    /// ids[r] = one token drawn from row r of `logits` (`[rows, vocabulary]`, f32 or bf16) with
    /// temperature, top-k, top-p and min-p, from the uniform uniforms[r] in [0, 1); the same id
    /// KilnEngine's `GPUSamplingReference` computes (its comment holds the contract and how it
    /// relates to the CPU `Sampler`). Per row, in device memory: temperatures fp32 `[rows]`
    /// (<= 0: greedy), topKs int32 `[rows]` (0: off), topPs fp32 `[rows]` (>= 1: off), minPs
    /// fp32 `[rows]` (<= 0: off), uniforms fp64 `[rows]`; ids: int32 `[rows]`.
    public func sample(_ logits: DeviceTensor, temperatures: DeviceBuffer, topKs: DeviceBuffer, topPs: DeviceBuffer,
                       minPs: DeviceBuffer, uniforms: DeviceBuffer, ids: DeviceBuffer, on stream: CUDAStream) throws {
        let rows = logits.rows
        precondition(temperatures.byteCount >= rows * 4 && topKs.byteCount >= rows * 4 && topPs.byteCount >= rows * 4
                     && minPs.byteCount >= rows * 4 && uniforms.byteCount >= rows * 8 && ids.byteCount >= rows * 4,
                     "sample: per-row buffers smaller than [\(rows)] (fp32/int32 4 bytes, uniforms fp64 8 bytes)")
        try sample(logits, temperatures: temperatures.address, topKs: topKs.address, topPs: topPs.address, minPs: minPs.address,
                   uniforms: uniforms.address, ids: ids.address, on: stream)
    }

    /// `sample` with the per-row arrays at device addresses (slices of one uploaded buffer).
    public func sample(_ logits: DeviceTensor, temperatures: CUdeviceptr, topKs: CUdeviceptr, topPs: CUdeviceptr,
                       minPs: CUdeviceptr, uniforms: CUdeviceptr, ids: CUdeviceptr, on stream: CUDAStream) throws {
        let rows = logits.rows
        precondition(logits.columns <= Self.maximumSamplingVocabulary,
                     "sample: vocabulary \(logits.columns) above \(Self.maximumSamplingVocabulary)")
        guard rows > 0, logits.columns > 0 else { return }
        var arguments = KernelArguments()
        arguments.pointer(logits.buffer)
        arguments.int32(logits.columns)
        arguments.int64(logits.columns)
        arguments.address(temperatures)
        arguments.address(topKs)
        arguments.address(topPs)
        arguments.address(minPs)
        arguments.address(uniforms)
        arguments.address(ids)
        try stream.launch(try function("sample_\(logits.elementType.suffix)"), grid: (rows, 1, 1),
                          block: (Self.samplingThreads, 1, 1), arguments: arguments)
    }
}
