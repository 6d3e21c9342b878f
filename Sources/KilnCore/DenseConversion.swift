/// Converts dense little-endian tensor bytes of any `DType` to fp32.
public enum DenseConversion {
    /// `count` elements of `dtype` read from `bytes` (unaligned is fine) as `Float`.
    /// Precondition: `bytes.count >= count * dtype.byteSize` (callers validate shapes first).
    public static func floats(from bytes: UnsafeRawBufferPointer, dtype: DType, count: Int) -> [Float] {
        precondition(bytes.count >= count * dtype.byteSize, "tensor data shorter than its shape")
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            let base = bytes.baseAddress!
            switch dtype {
            case .f32:
                for index in 0..<count { out[index] = Float(bitPattern: base.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)) }
            case .f64:
                for index in 0..<count { out[index] = Float(Double(bitPattern: base.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))) }
            case .f16:
                for index in 0..<count { out[index] = HalfPrecision.f16ToFloat(base.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)) }
            case .bf16:
                for index in 0..<count { out[index] = HalfPrecision.bf16ToFloat(base.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)) }
            case .f8e4m3:
                for index in 0..<count { out[index] = HalfPrecision.f8e4m3ToFloat(base.load(fromByteOffset: index, as: UInt8.self)) }
            case .f8e5m2:
                for index in 0..<count { out[index] = HalfPrecision.f8e5m2ToFloat(base.load(fromByteOffset: index, as: UInt8.self)) }
            case .i64:
                for index in 0..<count { out[index] = Float(Int64(littleEndian: base.loadUnaligned(fromByteOffset: index * 8, as: Int64.self))) }
            case .i32:
                for index in 0..<count { out[index] = Float(Int32(littleEndian: base.loadUnaligned(fromByteOffset: index * 4, as: Int32.self))) }
            case .i16:
                for index in 0..<count { out[index] = Float(Int16(littleEndian: base.loadUnaligned(fromByteOffset: index * 2, as: Int16.self))) }
            case .i8:
                for index in 0..<count { out[index] = Float(base.load(fromByteOffset: index, as: Int8.self)) }
            case .u8, .bool:
                for index in 0..<count { out[index] = Float(base.load(fromByteOffset: index, as: UInt8.self)) }
            }
            initialized = count
        }
    }
}
