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
    /// The element type K and V are stored in.
    public let elementType: DeviceElementType

    init(shape: KVCacheShape, elementType: DeviceElementType, allocator: DeviceAllocator, stream: CUDAStream) throws {
        self.shape = shape
        self.elementType = elementType
        let bytes = shape.blocks * shape.blockSize * shape.kvHeads * shape.headDim * elementType.byteSize
        keys = try (0..<shape.layers).map { _ in try allocator.allocate(byteCount: bytes) }
        values = try (0..<shape.layers).map { _ in try allocator.allocate(byteCount: bytes) }
        addresses = keys.map(\.address) + values.map(\.address)
        // Zeroed, as the CPU cache is: a read of an unwritten slot is a bug the checks can see.
        for buffer in keys + values { try stream.fill(buffer, byte: 0) }
    }

    /// Layer `layer`'s keys and values as `[blocks * blockSize, kvHeads * headDim]` tensors over
    /// the cache's memory (for checks that read back what kernels wrote).
    public func tensors(layer: Int) -> (keys: DeviceTensor, values: DeviceTensor) {
        let rows = shape.blocks * shape.blockSize, columns = shape.kvHeads * shape.headDim
        return (DeviceTensor(buffer: keys[layer], rows: rows, columns: columns, elementType: elementType),
                DeviceTensor(buffer: values[layer], rows: rows, columns: columns, elementType: elementType))
    }
}
