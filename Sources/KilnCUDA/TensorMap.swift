import KilnCore

/// A CUtensorMap (128 bytes, opaque): the description of a global bf16 matrix that Hopper's bulk
/// tensor copies (`cp.async.bulk.tensor`) read boxes of. Encoded by the driver
/// (`cuTensorMapEncodeTiled`) and passed to a kernel by value as sixteen 8-byte words
/// (`KernelArguments.words`, a `__grid_constant__` parameter on the device side).
enum TensorMap {
    /// CUtensorMapDataType BFLOAT16, CUtensorMapSwizzle 128B, CUtensorMapL2promotion L2_256B.
    static let bfloat16: UInt32 = 9, swizzle128Bytes: UInt32 = 3, l2Promotion256Bytes: UInt32 = 3

    /// A row-major bf16 matrix of `rows` x `columns` at `address` (rows `rowStride` elements
    /// apart), read in boxes of `boxRows` x `boxColumns` (boxColumns x 2 bytes at most 128: one
    /// 128-byte swizzle row), swizzled as wgmma's 128-byte K-major layout wants, with a 256-byte
    /// L2 promotion; elements outside the matrix read as zero. Nil when the driver has no tensor
    /// maps (before CUDA 12).
    static func bf16Matrix(device: CUDADevice, address: CUdeviceptr, rows: Int, columns: Int, rowStride: Int,
                           boxRows: Int, boxColumns: Int) throws -> [UInt64]? {
        guard let encode = device.driver.functions.cuTensorMapEncodeTiled else { return nil }
        precondition(rows > 0 && columns > 0 && rowStride >= columns && (rowStride * 2) % 16 == 0 && address % 16 == 0,
                     "tensor map: [\(rows), \(columns)] stride \(rowStride) at \(address)")
        precondition(boxRows >= 1 && boxRows <= 256 && boxColumns * 2 <= 128, "tensor map box \(boxRows) x \(boxColumns)")
        let dimensions: [UInt64] = [UInt64(columns), UInt64(rows)]
        let strides: [UInt64] = [UInt64(rowStride * 2)]
        let box: [UInt32] = [UInt32(boxColumns), UInt32(boxRows)]
        let elementStrides: [UInt32] = [1, 1]
        // The driver wants the map's own memory 64-byte aligned (a Swift array's storage need not be).
        let (result, words) = withUnsafeTemporaryAllocation(byteCount: 128, alignment: 64) { map -> (CUresult, [UInt64]) in
            map.initializeMemory(as: UInt8.self, repeating: 0)
            let result = encode(map.baseAddress!, bfloat16, 2, UnsafeMutableRawPointer(bitPattern: UInt(address)), dimensions, strides,
                                box, elementStrides, 0, swizzle128Bytes, l2Promotion256Bytes, 0)
            return (result, (0..<16).map { map.load(fromByteOffset: 8 * $0, as: UInt64.self) })
        }
        try device.check(result, "cuTensorMapEncodeTiled([\(rows), \(columns)], box \(boxRows) x \(boxColumns))")
        return words
    }
}
