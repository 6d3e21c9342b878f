import KilnCPU

/// Host tensors for the GPU checks' CPU side.
extension CPUBackend {
    /// A `[rows, columns]` CPU tensor holding `values`.
    func tensor(_ values: [Float], rows: Int, columns: Int) -> CPUTensor {
        let tensor = makeTensor(rows: rows, columns: columns)
        values.withUnsafeBufferPointer { tensor.data.update(from: $0.baseAddress!, count: rows * columns) }
        return tensor
    }

    /// A CPU tensor's values, copied while the tensor is certainly alive (an optimised build may
    /// release it right after its last use, which `tensor.data` alone does not count as).
    func values(of tensor: CPUTensor) -> [Float] {
        withExtendedLifetime(tensor) { Array(UnsafeBufferPointer(start: tensor.data, count: tensor.rows * tensor.columns)) }
    }
}
