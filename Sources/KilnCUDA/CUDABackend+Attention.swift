import Foundation
import KilnBackend
import KilnCore

/// Attention over the paged cache (README-attention.md): the split-K decode kernel when every
/// sequence of the batch brings one token, the FlashAttention-style prefill kernel otherwise, and
/// the reference kernel for head sizes the tuned kernels do not take.
extension CUDABackend {
    public func attention(query: DeviceTensor, cache: CUDAKVCache, layer: Int, batch: ForwardBatch,
                          parameters: AttentionParameters, into out: DeviceTensor) throws {
        let step = try currentStep(rows: batch.tokens.count)
        guard !batch.sequences.isEmpty, batch.sequences.contains(where: { $0.tokenCount > 0 }) else { return }
        guard [64, 128, 256].contains(parameters.headDim) else {
            try referenceAttention(query: query, cache: cache, layer: layer, batch: batch, step: step, parameters: parameters, into: out)
            return
        }
        if Self.isDecode(batch) {
            if profileSkips.contains(.attention) { return }
            try decodeAttention(query: query, cache: cache, layer: layer, batch: batch, step: step, parameters: parameters, into: out)
        } else {
            try prefillAttention(query: query, cache: cache, layer: layer, batch: batch, step: step, parameters: parameters, into: out)
        }
    }

    /// One new token per sequence, sequence i on row i.
    static func isDecode(_ batch: ForwardBatch) -> Bool {
        batch.sequences.count == batch.tokens.count
            && batch.sequences.enumerated().allSatisfy { $0.element.tokenCount == 1 && $0.element.tokenStart == $0.offset }
    }

    /// How the decode kernel splits keys: partitions of `partitionSize` keys, at most
    /// `maxPartitions` per row (the split kernel's grid.x), from README-attention.md's rule (about
    /// two blocks per SM for the longest row, one for the tensor-core kernel at large batches), with partitions of at least `leastKeys` (32: at batch 1 on an H100 a 64-key partition once
    /// took 13 us, latency-bound, so smaller partitions and more blocks serve short contexts
    /// better; session 8 measured 64 and 128 slower again).
    ///
    /// `tensorCores`: the split of attention_decode_mma_* (a fixed tile of 8 heads, the mma's n8).
    struct DecodeSplit: Equatable {
        var groupTile: Int
        var chunks: Int
        var partitionSize: Int
        var maxPartitions: Int
        /// Most partitions a row is split into: the reduce kernel keeps a weight per partition in
        /// shared memory (kMaxReducePartitions in attention_decode.cuh).
        static let maximumPartitions = 512
        /// Fewest keys a partition is cut down to: 32 (`KILN_DECODE_PARTITION_KEYS`, a multiple of
        /// 32, for A/B runs of the split; at batch 1 on an H100, Gemma-2B 128 + 256 tokens, 64 keys
        /// measured 495.2 and 128 keys 485.0 against 498.3 tokens/s for 32).
        static let leastPartitionKeys: Int = {
            guard let text = ProcessInfo.processInfo.environment["KILN_DECODE_PARTITION_KEYS"] else { return 32 }
            guard let keys = Int(text), keys >= 32, keys <= 1 << 16, keys % 32 == 0 else {
                FileHandle.standardError.write(Data("KILN_DECODE_PARTITION_KEYS=\(text) ignored: a multiple of 32 from 32 to 65536\n".utf8))
                return 32
            }
            return keys
        }()

        /// Blocks per SM the split aims at: 2, except 1 for the tensor-core kernel where the rows
        /// alone (rows x kv heads x chunks) fill a quarter of the SMs, the only regime measured:
        /// H100, Gemma-2B static batch 64, 128/128, where 1 gives 2 partitions of a 128-256-key
        /// context instead of 4 (21,968 / 22,015 output tokens/s against 21,815 / 21,800 for 2;
        /// 21,620 / 21,631 for 0.5; 20,940 / 20,853 for 4; medians of six runs over three calls
        /// +0.75%, one pair even). `KILN_DECODE_BLOCKS_PER_SM` (0.25-16) sets the aim everywhere,
        /// for A/B runs.
        static let blocksPerMultiprocessorSetting: Double? = {
            guard let text = ProcessInfo.processInfo.environment["KILN_DECODE_BLOCKS_PER_SM"] else { return nil }
            guard let value = Double(text), value >= 0.25, value <= 16 else {
                FileHandle.standardError.write(Data("KILN_DECODE_BLOCKS_PER_SM=\(text) ignored: a number from 0.25 to 16\n".utf8))
                return nil
            }
            return value
        }()

        init(rows: Int, heads: Int, kvHeads: Int, visibleKeys: Int, multiprocessors: Int, tensorCores: Bool = false,
             leastKeys: Int = leastPartitionKeys, blocksPerMultiprocessor: Double? = blocksPerMultiprocessorSetting) {
            let group = heads / kvHeads
            var tile = 1
            while tile < group && tile < 8 { tile *= 2 }
            // A small batch of wide groups (Gemma's 8 query heads on one kv head, one row) leaves
            // most SMs idle: two chunks of 4 heads double the blocks (README-attention.md, H200,
            // batch 1: g4 in two chunks 16.6 us, g8 19.3 us).
            if tile == 8 && rows * kvHeads < multiprocessors / 8 { tile = 4 }
            if tensorCores { tile = 8 }
            groupTile = tile
            chunks = (group + tile - 1) / tile
            let keys = max(1, visibleKeys)
            let filling = tensorCores && 4 * rows * kvHeads * chunks >= multiprocessors
            let perMultiprocessor = blocksPerMultiprocessor ?? (filling ? 1 : 2)
            let wanted = Int(perMultiprocessor * Double(multiprocessors)) / max(1, rows * kvHeads * chunks)
            let least = leastKeys
            let partitions = min(max(wanted, 1), (keys + least - 1) / least, Self.maximumPartitions)
            partitionSize = ((keys + partitions - 1) / partitions + 31) / 32 * 32
            maxPartitions = (keys + partitionSize - 1) / partitionSize
        }
    }

    /// input: form the queries and the new K/V in the kernel (attention_decode_input_*) from this
    /// Q/K/V product instead of reading `query` (CUDABackend+FusedDecodeAttention.swift).
    func decodeAttention(query: DeviceTensor, cache: CUDAKVCache, layer: Int, batch: ForwardBatch, step: CUDAStepBuffers,
                         parameters: AttentionParameters, into out: DeviceTensor, input: FusedDecodeInput? = nil) throws {
        let rows = batch.tokens.count, heads = parameters.heads, headDim = parameters.headDim
        // A recording is replayed for contexts up to its bucket: split for the bucket.
        let longest = recording?.contextBucket ?? batch.sequences.map(\.contextLength).max() ?? 1
        let visible = parameters.slidingWindow.map { min($0, longest) } ?? longest
        // Tensor cores (attention_decode_mma_*, 8 query heads a block) for a fused-input step when
        // `decodeAttentionMMA` says so (KILN_DECODE_MMA=0/1, or a check), else where the CUDA-core
        // kernel would take 8-head tiles (groups of 8 or more at batch): its fp32 dot products make
        // that instantiation issue-bound (ncu, H100, batch 64, Gemma-2B: 255 registers, 0.3
        // instructions a scheduler cycle). The tensor-core kernel has its own split (8-head tiles,
        // one block an SM at large batches).
        let coreSplit = DecodeSplit(rows: rows, heads: heads, kvHeads: parameters.kvHeads, visibleKeys: visible,
                                    multiprocessors: runtime.device.multiprocessors)
        let tensorCores = input != nil && (decodeAttentionMMA ?? (coreSplit.groupTile == 8))
        let split = tensorCores
            ? DecodeSplit(rows: rows, heads: heads, kvHeads: parameters.kvHeads, visibleKeys: visible,
                          multiprocessors: runtime.device.multiprocessors, tensorCores: true)
            : coreSplit
        let slots = rows * heads * split.maxPartitions
        let partials = try scratch(byteCount: 4 * slots * (headDim + 2))
        let partialOut = partials.address
        let partialMax = partialOut + CUdeviceptr(4 * slots * headDim)
        let partialSum = partialMax + CUdeviceptr(4 * slots)
        let type = query.elementType.suffix

        var arguments = attentionArguments(query: query, cache: cache, layer: layer, step: step, parameters: parameters, out: out,
                                           rowIndex: [step.rowSequence])
        arguments.int32(split.partitionSize)
        arguments.address(partialOut)
        arguments.address(partialMax)
        arguments.address(partialSum)
        var kernel = "attention_decode_\(type)_h\(headDim)_g\(split.groupTile)"
        var sharedBytes = 0
        if let input {
            kernel = tensorCores ? "attention_decode_mma_bf16_h\(headDim)" : "attention_decode_input_\(type)_h\(headDim)_g\(split.groupTile)"
            arguments.pointer(input.qkv.buffer)
            arguments.int32(input.qkv.columns)
            arguments.pointer(cache.keys[layer])
            arguments.pointer(cache.values[layer])
            arguments.address(step.slots)
            arguments.pointer(input.queryNorm)
            arguments.pointer(input.keyNorm)
            arguments.float(input.epsilon)
            arguments.pointer(input.table)
            arguments.int32(input.pairs)
            arguments.int32(input.interleaved ? 1 : 0)
            if tensorCores {
                let stages = Self.tensorCoreDecodeStages(forced: decodeMMAStages)
                arguments.int32(stages)
                sharedBytes = Self.tensorCoreDecodeSharedBytes(headDim: headDim, stages: stages)
            }
        }
        let function = try kernels.function(kernel)
        if sharedBytes > 48 * 1024 { try kernels.setMaxDynamicSharedMemory(function, bytes: sharedBytes) }
        try stream.launch(function, grid: (split.maxPartitions, parameters.kvHeads * split.chunks, rows), block: (128, 1, 1),
                          sharedBytes: sharedBytes, arguments: arguments)
        if tensorCores { tensorCoreDecodeLaunches.withLock { $0 += 1 } }
        guard split.maxPartitions > 1 else { return }

        var reduce = KernelArguments()
        reduce.address(partialOut)
        reduce.address(partialMax)
        reduce.address(partialSum)
        reduce.pointer(out.buffer)
        reduce.int32(out.columns)
        reduce.address(step.positions)
        reduce.address(step.rowSequence)
        reduce.address(step.sequenceContextLength)
        reduce.int32(heads)
        reduce.int32(headDim)
        reduce.int32(parameters.slidingWindow ?? 0)
        reduce.int32(split.partitionSize)
        reduce.int32(split.maxPartitions)
        try stream.launch(try kernels.function("attention_decode_reduce_\(type)"), grid: (heads, rows, 1), block: (128, 1, 1), arguments: reduce)
    }

    /// Tile buffers a warp of attention_decode_mma_* cycles through: one (a warp's next tile is
    /// copied after its current one's arithmetic; other blocks fill the gap), unless forced
    /// (KILN_DECODE_MMA_STAGES=2: the next tile's copies in flight during the arithmetic). Two
    /// stages double the shared memory (h256: 128 KiB, one block an SM); at batch 64 on an H100
    /// they measured 19,463 output tokens/s against one stage's 20,124 / 20,208.
    static func tensorCoreDecodeStages(forced: Int? = nil) -> Int {
        if let forced, forced == 1 || forced == 2 { return forced }
        return 1
    }

    /// attention_decode_mma_*'s dynamic shared memory: per warp and stage a K and a V tile of 16
    /// keys (4 warps x stages x 2 x 16 x headDim bf16).
    static func tensorCoreDecodeSharedBytes(headDim: Int, stages: Int) -> Int { 256 * headDim * stages }

    func prefillAttention(query: DeviceTensor, cache: CUDAKVCache, layer: Int, batch: ForwardBatch, step: CUDAStepBuffers,
                          parameters: AttentionParameters, into out: DeviceTensor) throws {
        let group = parameters.heads / parameters.kvHeads
        let type = query.elementType
        // ABI of attention_prefill_* (README-attention.md): 128 threads, a tile of packed
        // (token, head-of-group) rows per block in x, kv heads in y, sequences in z.
        let rowsPerBlock = type == .bf16 ? 64 : 32
        let shared = type == .bf16 ? 3 * 64 * (parameters.headDim + 8) * 2 : 3 * 32 * (parameters.headDim + 4) * 4 + 32 * 4
        let function = try kernels.function("attention_prefill_\(type.suffix)_h\(parameters.headDim)")
        if shared > 48 * 1024 { try kernels.setMaxDynamicSharedMemory(function, bytes: shared) }
        let longest = batch.sequences.map(\.tokenCount).max() ?? 0
        let arguments = attentionArguments(query: query, cache: cache, layer: layer, step: step, parameters: parameters, out: out)
        try stream.launch(function, grid: ((longest * group + rowsPerBlock - 1) / rowsPerBlock, parameters.kvHeads, batch.sequences.count),
                          block: (128, 1, 1), sharedBytes: shared, arguments: arguments)
    }

    /// The parameters the attention kernels share (README-attention.md), up to the soft-cap. The
    /// rows' sequence indexing differs: attention_prefill_* and attention_reference_* take each
    /// sequence's token start and count (the default), attention_decode_* each row's sequence.
    func attentionArguments(query: DeviceTensor, cache: CUDAKVCache, layer: Int, step: CUDAStepBuffers,
                            parameters: AttentionParameters, out: DeviceTensor, rowIndex: [CUdeviceptr]? = nil) -> KernelArguments {
        var arguments = KernelArguments()
        arguments.pointer(query.buffer)
        arguments.int32(query.columns)
        arguments.pointer(cache.keys[layer])
        arguments.pointer(cache.values[layer])
        arguments.pointer(out.buffer)
        arguments.int32(out.columns)
        arguments.address(step.positions)
        for address in rowIndex ?? [step.sequenceTokenStart, step.sequenceTokenCount] { arguments.address(address) }
        arguments.address(step.sequenceContextLength)
        arguments.address(step.blockTables)
        arguments.int32(step.blockTableStride)
        arguments.int32(cache.shape.blockSize)
        arguments.int32(parameters.heads)
        arguments.int32(parameters.kvHeads)
        arguments.float(parameters.scale)
        arguments.int32(parameters.slidingWindow ?? 0)
        arguments.float(parameters.softcap ?? 0)
        return arguments
    }

    /// Head sizes the tuned kernels do not take (tiny test models): one warp per query head.
    func referenceAttention(query: DeviceTensor, cache: CUDAKVCache, layer: Int, batch: ForwardBatch, step: CUDAStepBuffers,
                            parameters: AttentionParameters, into out: DeviceTensor) throws {
        guard parameters.headDim <= 256 else {
            throw KilnError.unsupported(path: name, reason: "attention head size \(parameters.headDim) (at most 256)")
        }
        let longest = batch.sequences.map(\.tokenCount).max() ?? 0
        guard longest > 0 else { return }
        var arguments = attentionArguments(query: query, cache: cache, layer: layer, step: step, parameters: parameters, out: out)
        arguments.int32(parameters.headDim)
        try stream.launch(try kernels.function("attention_reference_\(query.elementType.suffix)"), grid: (longest, parameters.heads, batch.sequences.count),
                          block: (32, 1, 1), arguments: arguments)
    }
}
