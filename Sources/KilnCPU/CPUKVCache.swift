import KilnBackend

/// The paged KV cache in host memory: per layer, K and V of shape
/// `[blocks, blockSize, kvHeads, headDim]` fp32. Slot s = block * blockSize + offset.
public final class CPUKVCache: @unchecked Sendable {
    /// The cache's shape.
    public let shape: KVCacheShape
    /// `layers` K arrays then `layers` V arrays, each `[blocks * blockSize, kvHeads * headDim]`.
    let keys: [UnsafeMutablePointer<Float>]
    let values: [UnsafeMutablePointer<Float>]

    init(shape: KVCacheShape) {
        self.shape = shape
        let perLayer = shape.blocks * shape.blockSize * shape.kvHeads * shape.headDim
        keys = (0..<shape.layers).map { _ in
            let pointer = UnsafeMutablePointer<Float>.allocate(capacity: perLayer)
            pointer.initialize(repeating: 0, count: perLayer)
            return pointer
        }
        values = (0..<shape.layers).map { _ in
            let pointer = UnsafeMutablePointer<Float>.allocate(capacity: perLayer)
            pointer.initialize(repeating: 0, count: perLayer)
            return pointer
        }
    }

    deinit {
        for pointer in keys { pointer.deallocate() }
        for pointer in values { pointer.deallocate() }
    }

    /// Floats per slot (one token's K or V for every kv head).
    var slotWidth: Int { shape.kvHeads * shape.headDim }
}
