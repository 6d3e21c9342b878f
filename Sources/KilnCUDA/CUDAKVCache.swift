import KilnBackend

/// The paged KV cache on the GPU: per layer, K and V of `[blocks * blockSize, kvHeads * headDim]`
/// (the CPU cache's layout), in the backend's activation type.
public final class CUDAKVCache: @unchecked Sendable {
    /// The cache's shape.
    public let shape: KVCacheShape
    let keys: [DeviceBuffer]
    let values: [DeviceBuffer]
    /// Every layer's K then V address: part of a recorded step's key (computed once).
    let addresses: [CUdeviceptr]

    init(shape: KVCacheShape, elementType: DeviceElementType, allocator: DeviceAllocator, stream: CUDAStream) throws {
        self.shape = shape
        let bytes = shape.blocks * shape.blockSize * shape.kvHeads * shape.headDim * elementType.byteSize
        keys = try (0..<shape.layers).map { _ in try allocator.allocate(byteCount: bytes) }
        values = try (0..<shape.layers).map { _ in try allocator.allocate(byteCount: bytes) }
        addresses = keys.map(\.address) + values.map(\.address)
        // Zeroed, as the CPU cache is: a read of an unwritten slot is a bug the checks can see.
        for buffer in keys + values { try stream.fill(buffer, byte: 0) }
    }
}
