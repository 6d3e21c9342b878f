/// A kernel's parameters in order, one 8-byte slot each (cuLaunchKernel reads each parameter's
/// own size from the start of its slot; x86-64 and arm64 are little-endian).
public struct KernelArguments: Sendable {
    var slots: [UInt64] = []

    /// No parameters yet.
    public init() {}

    /// Appends a device pointer.
    public mutating func pointer(_ buffer: DeviceBuffer?) { slots.append(buffer?.address ?? 0) }
    /// Appends a device address.
    public mutating func address(_ address: CUdeviceptr) { slots.append(address) }
    /// Appends a C `int`.
    public mutating func int32(_ value: Int) {
        precondition(value >= Int(Int32.min) && value <= Int(Int32.max), "kernel int parameter \(value) out of range")
        slots.append(UInt64(UInt32(bitPattern: Int32(value))))
    }
    /// Appends a C `long long`.
    public mutating func int64(_ value: Int) { slots.append(UInt64(bitPattern: Int64(value))) }
    /// Appends a C `float`.
    public mutating func float(_ value: Float) { slots.append(UInt64(value.bitPattern)) }
}
