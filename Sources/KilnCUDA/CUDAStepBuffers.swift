import KilnBackend

/// One step's batch on the GPU, uploaded once by `CUDABackend.prepare`: int32 arrays the kernels
/// index with (tokens, positions, slots, per-sequence starts/counts/context lengths, the block
/// tables padded to one stride, and the rows whose logits are wanted).
struct CUDAStepBuffers {
    let batch: ForwardBatch
    let tokens: DeviceBuffer
    let positions: DeviceBuffer
    let slots: DeviceBuffer
    let sequenceTokenStart: DeviceBuffer
    let sequenceTokenCount: DeviceBuffer
    let sequenceContextLength: DeviceBuffer
    /// `[sequences, blockTableStride]`, rows padded with 0.
    let blockTables: DeviceBuffer
    let blockTableStride: Int
    let logitRows: DeviceBuffer

    init(batch: ForwardBatch, allocator: DeviceAllocator, stream: CUDAStream) throws {
        self.batch = batch
        func upload(_ values: [Int]) throws -> DeviceBuffer {
            let int32 = values.map { Int32(truncatingIfNeeded: $0) }
            let buffer = try allocator.allocate(byteCount: max(4, int32.count * 4))
            if !int32.isEmpty { try int32.withUnsafeBytes { try stream.copy(from: $0, to: buffer) } }
            return buffer
        }
        tokens = try upload(batch.tokens)
        positions = try upload(batch.positions)
        slots = try upload(batch.slots)
        sequenceTokenStart = try upload(batch.sequences.map(\.tokenStart))
        sequenceTokenCount = try upload(batch.sequences.map(\.tokenCount))
        sequenceContextLength = try upload(batch.sequences.map(\.contextLength))
        let stride = max(1, batch.sequences.map(\.blockTable.count).max() ?? 1)
        blockTableStride = stride
        blockTables = try upload(batch.sequences.flatMap { $0.blockTable + Array(repeating: 0, count: stride - $0.blockTable.count) })
        logitRows = try upload(batch.logitRows)
    }
}
