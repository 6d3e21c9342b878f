import Foundation
import KilnBackend
import KilnCore

/// Weight upload: checkpoint bytes to device memory in the backend's precision, without building
/// an fp32 copy of a whole matrix on the host (a 2.5B-parameter model would need 10 GB for it).
extension CUDABackend {
    public func loadWeight(_ source: WeightSource) throws -> CUDAWeight {
        if source.shape.count == 1 { return try loadVector(try source.floats(), name: source.name) }
        let buffer = try runtime.allocator.allocate(byteCount: max(4, source.rows * source.columns * precision.byteSize))
        if case .dense(let dtype) = source.storage, dtype == .bf16 && precision == .bf16 || dtype == .f32 && precision == .f32 {
            // Already the device's layout: one copy straight from the mapped file.
            try stream.copy(from: source.bytes, to: buffer)
        } else {
            try convertRows(source, into: buffer)
        }
        return CUDAWeight(buffer: buffer, rows: source.rows, columns: source.columns, elementType: precision)
    }

    /// Decodes `source` a band of rows at a time (all cores), converts each band to the
    /// precision and queues its copy; about 16 MB of host memory per band.
    private func convertRows(_ source: WeightSource, into buffer: DeviceBuffer) throws {
        let columns = source.columns, size = precision.byteSize
        let band = max(1, (16 << 20) / max(1, columns * 4))
        let staging = UnsafeMutableRawBufferPointer.allocate(byteCount: band * columns * size, alignment: 64)
        defer { staging.deallocate() }
        var first = 0
        while first < source.rows {
            let count = min(band, source.rows - first), bandStart = first
            let precision = self.precision
            let base = UInt(bitPattern: staging.baseAddress!) // an address is Sendable; each worker writes its own rows
            DispatchQueue.concurrentPerform(iterations: min(count, 16)) { worker in
                let base = UnsafeMutableRawPointer(bitPattern: base)!
                let row = UnsafeMutablePointer<Float>.allocate(capacity: columns)
                defer { row.deallocate() }
                var r = worker
                while r < count {
                    source.decodeRow(bandStart + r, into: row)
                    switch precision {
                    case .f32:
                        (base + r * columns * 4).copyMemory(from: row, byteCount: columns * 4)
                    case .bf16:
                        let words = (base + r * columns * 2).assumingMemoryBound(to: UInt16.self)
                        for c in 0..<columns { words[c] = HalfPrecision.floatToBF16(row[c]) }
                    }
                    r += min(count, 16)
                }
            }
            try stream.copy(from: UnsafeRawBufferPointer(start: staging.baseAddress!, count: count * columns * size), to: buffer, offset: first * columns * size)
            // The staging memory is reused for the next band: the copy must have read it.
            try stream.synchronize()
            first += count
        }
    }

    public func loadVector(_ values: [Float], name: String) throws -> CUDAWeight {
        let vector = try upload(values, rows: 1, columns: values.count, as: .f32)
        guard precision == .bf16 else { return vector }
        let copy = try upload(values, rows: 1, columns: values.count, as: .bf16)
        return CUDAWeight(buffer: vector.buffer, rows: 1, columns: values.count, elementType: .f32, bf16Copy: copy.buffer)
    }

    func upload(_ values: [Float], rows: Int, columns: Int, as type: DeviceElementType) throws -> CUDAWeight {
        let buffer = try runtime.allocator.allocate(byteCount: max(4, values.count * type.byteSize))
        switch type {
        case .f32:
            try values.withUnsafeBytes { try stream.copy(from: $0, to: buffer) }
        case .bf16:
            let words = values.map { HalfPrecision.floatToBF16($0) }
            try words.withUnsafeBytes { try stream.copy(from: $0, to: buffer) }
        }
        return CUDAWeight(buffer: buffer, rows: rows, columns: columns, elementType: type)
    }

    /// Joins equal-width matrices of the backend's precision row-wise with device copies (the
    /// parts are freed when the caller drops them). nil for vectors or mixed shapes.
    public func concatenateRows(_ parts: [CUDAWeight]) throws -> CUDAWeight? {
        guard parts.count > 1, let first = parts.first, first.rows > 1,
              parts.allSatisfy({ $0.columns == first.columns && $0.elementType == first.elementType && $0.rows > 1 }) else { return nil }
        let rows = parts.reduce(0) { $0 + $1.rows }
        let rowBytes = first.columns * first.elementType.byteSize
        let buffer = try runtime.allocator.allocate(byteCount: rows * rowBytes)
        var offset = 0
        for part in parts {
            try runtime.device.check(runtime.device.driver.functions.cuMemcpyDtoDAsync(
                buffer.address + CUdeviceptr(offset), part.buffer.address, part.rows * rowBytes, stream.handle), "cuMemcpyDtoDAsync")
            offset += part.rows * rowBytes
        }
        try stream.synchronize()
        return CUDAWeight(buffer: buffer, rows: rows, columns: first.columns, elementType: first.elementType)
    }
}
