import KilnBackend
import KilnCore

/// One step's batch on the GPU: the int32 arrays the kernels index with, packed in one device
/// buffer and uploaded with one copy. Sized by capacity (rows, sequences, block-table stride) so
/// a recorded CUDA graph can keep the same buffer and get each new step's batch rewritten in place.
///
/// Layout (int32 elements): tokens, positions, slots, rowSequence, logitRows `[rowCapacity]` each;
/// sequenceTokenStart, sequenceTokenCount, sequenceContextLength `[sequenceCapacity]` each; then
/// the block tables `[sequenceCapacity, blockTableStride]`, each row padded with 0 (entries past a
/// sequence's context are never read).
final class CUDAStepBuffers: @unchecked Sendable {
    let rowCapacity: Int
    let sequenceCapacity: Int
    let blockTableStride: Int
    let storage: DeviceBuffer
    /// The batch last uploaded.
    private(set) var batch: ForwardBatch

    init(rowCapacity: Int, sequenceCapacity: Int, blockTableStride: Int, allocator: DeviceAllocator) throws {
        precondition(rowCapacity >= 1 && sequenceCapacity >= 1 && blockTableStride >= 1)
        self.rowCapacity = rowCapacity
        self.sequenceCapacity = sequenceCapacity
        self.blockTableStride = blockTableStride
        storage = try allocator.allocate(byteCount: 4 * (5 * rowCapacity + sequenceCapacity * (3 + blockTableStride)))
        batch = ForwardBatch(tokens: [], positions: [], slots: [], sequences: [], logitRows: [])
    }

    /// Buffers that fit exactly `batch`, with it uploaded.
    convenience init(batch: ForwardBatch, allocator: DeviceAllocator, stream: CUDAStream) throws {
        try self.init(rowCapacity: max(1, batch.tokens.count), sequenceCapacity: max(1, batch.sequences.count),
                      blockTableStride: max(1, batch.sequences.map(\.blockTable.count).max() ?? 1), allocator: allocator)
        try upload(batch, blockSize: nil, stream: stream)
    }

    private func address(_ element: Int) -> CUdeviceptr { storage.address + CUdeviceptr(4 * element) }
    var tokens: CUdeviceptr { address(0) }
    var positions: CUdeviceptr { address(rowCapacity) }
    var slots: CUdeviceptr { address(2 * rowCapacity) }
    /// `[rows]`: the sequence each batch row belongs to (for the decode attention kernel).
    var rowSequence: CUdeviceptr { address(3 * rowCapacity) }
    var logitRows: CUdeviceptr { address(4 * rowCapacity) }
    var sequenceTokenStart: CUdeviceptr { address(5 * rowCapacity) }
    var sequenceTokenCount: CUdeviceptr { address(5 * rowCapacity + sequenceCapacity) }
    var sequenceContextLength: CUdeviceptr { address(5 * rowCapacity + 2 * sequenceCapacity) }
    var blockTables: CUdeviceptr { address(5 * rowCapacity + 3 * sequenceCapacity) }

    /// Whether `batch` fits these capacities (block tables cut to the blocks its contexts use
    /// when `blockSize` is given).
    func fits(_ batch: ForwardBatch, blockSize: Int?) -> Bool {
        guard batch.tokens.count <= rowCapacity, batch.sequences.count <= sequenceCapacity,
              batch.logitRows.count <= rowCapacity else { return false }
        return batch.sequences.allSatisfy { usedBlocks($0, blockSize: blockSize) <= blockTableStride }
    }

    private func usedBlocks(_ sequence: ForwardBatch.Sequence, blockSize: Int?) -> Int {
        guard let blockSize else { return sequence.blockTable.count }
        return min(sequence.blockTable.count, (sequence.contextLength + blockSize - 1) / blockSize)
    }

    /// Packs `batch` and queues one host-to-device copy on `stream`, behind the kernels queued
    /// before it (the packed bytes are staged by the driver before this returns).
    func upload(_ batch: ForwardBatch, blockSize: Int?, stream: CUDAStream) throws {
        guard fits(batch, blockSize: blockSize) else {
            throw KilnError.invalidArgument("CUDA step buffers for \(rowCapacity) rows, \(sequenceCapacity) sequences and \(blockTableStride) blocks cannot take this batch")
        }
        let rows = rowCapacity, sequences = sequenceCapacity
        var packed = [Int32](repeating: 0, count: storage.byteCount / 4)
        func put(_ values: [Int], at start: Int) {
            for (i, value) in values.enumerated() { packed[start + i] = Int32(truncatingIfNeeded: value) }
        }
        put(batch.tokens, at: 0)
        put(batch.positions, at: rows)
        put(batch.slots, at: 2 * rows)
        for (s, sequence) in batch.sequences.enumerated() {
            for row in sequence.tokenStart..<(sequence.tokenStart + sequence.tokenCount) where row < rows { packed[3 * rows + row] = Int32(s) }
        }
        put(batch.logitRows, at: 4 * rows)
        put(batch.sequences.map(\.tokenStart), at: 5 * rows)
        put(batch.sequences.map(\.tokenCount), at: 5 * rows + sequences)
        put(batch.sequences.map(\.contextLength), at: 5 * rows + 2 * sequences)
        for (s, sequence) in batch.sequences.enumerated() {
            put(Array(sequence.blockTable.prefix(blockTableStride)), at: 5 * rows + 3 * sequences + s * blockTableStride)
        }
        try packed.withUnsafeBytes { try stream.copy(from: $0, to: storage) }
        self.batch = batch
    }
}
