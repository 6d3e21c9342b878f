/// A kernel's parameters in order, one 8-byte slot each, or several consecutive slots for a wider
/// one (`words`); cuLaunchKernel gets one pointer a parameter and reads the parameter's own size
/// from it (x86-64 and arm64 are little-endian).
public struct KernelArguments: Sendable {
    var slots: [UInt64] = []
    /// The first slot of each parameter (a parameter larger than 8 bytes, such as a tensor map,
    /// spans several consecutive slots).
    var starts: [Int] = []

    /// No parameters yet.
    public init() {}

    private mutating func append(_ value: UInt64) {
        starts.append(slots.count)
        slots.append(value)
    }

    /// Appends a device pointer.
    public mutating func pointer(_ buffer: DeviceBuffer?) { append(buffer?.address ?? 0) }
    /// Appends a device address.
    public mutating func address(_ address: CUdeviceptr) { append(address) }
    /// Appends a C `int`.
    public mutating func int32(_ value: Int) {
        precondition(value >= Int(Int32.min) && value <= Int(Int32.max), "kernel int parameter \(value) out of range")
        append(UInt64(UInt32(bitPattern: Int32(value))))
    }
    /// Appends a C `long long`.
    public mutating func int64(_ value: Int) { append(UInt64(bitPattern: Int64(value))) }
    /// Appends a C `float`.
    public mutating func float(_ value: Float) { append(UInt64(value.bitPattern)) }
    /// Appends one parameter of `words.count` 8-byte words passed by value (a 128-byte CUtensorMap
    /// is 16 words; the driver copies it into the kernel's parameter space at its own alignment).
    public mutating func words(_ words: [UInt64]) {
        precondition(!words.isEmpty, "an empty kernel parameter")
        starts.append(slots.count)
        slots.append(contentsOf: words)
    }
}
