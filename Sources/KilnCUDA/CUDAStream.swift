import KilnCore

/// A CUDA stream (non-blocking: it does not wait for the legacy default stream). Work on one
/// stream runs in order; the host waits only at `synchronize()` and at downloads.
public final class CUDAStream: @unchecked Sendable {
    /// The device it belongs to.
    public let device: CUDADevice
    let handle: CUhandle?
    /// When set, every kernel and cuBLASLt launch is timed (`LaunchProfiler`).
    public var profiler: LaunchProfiler?
    /// Launch kernels that wait for their prerequisites themselves with programmatic stream
    /// serialization, so each starts launching while the one before it finishes (sm_90+).
    public var programmaticLaunches = false

    /// Creates a stream on `device`.
    public init(device: CUDADevice) throws {
        self.device = device
        var stream: CUhandle?
        try device.check(device.driver.functions.cuStreamCreate(&stream, CUDAConstant.streamNonBlocking), "cuStreamCreate")
        handle = stream
    }

    deinit { _ = device.driver.functions.cuStreamDestroy(handle) }

    private var functions: DriverFunctions { device.driver.functions }

    /// Waits until everything queued on the stream has finished; reports any kernel fault.
    public func synchronize() throws {
        try device.check(functions.cuStreamSynchronize(handle), "cuStreamSynchronize")
    }

    /// Queues a copy of host bytes to `buffer` at `offset`. The host memory must stay valid until
    /// the copy has run (pageable memory is staged by the driver before this returns).
    public func copy(from host: UnsafeRawBufferPointer, to buffer: DeviceBuffer, offset: Int = 0) throws {
        precondition(offset + host.count <= buffer.byteCount, "copy of \(host.count) bytes at \(offset) past a \(buffer.byteCount)-byte buffer")
        guard host.count > 0 else { return }
        try device.check(functions.cuMemcpyHtoDAsync(buffer.address + CUdeviceptr(offset), host.baseAddress, host.count, handle),
                         "cuMemcpyHtoDAsync(\(host.count) bytes)")
    }

    /// Copies `host.count` bytes of `buffer` from `offset` to the host and waits for them.
    public func copy(from buffer: DeviceBuffer, offset: Int = 0, to host: UnsafeMutableRawBufferPointer) throws {
        precondition(offset + host.count <= buffer.byteCount, "copy of \(host.count) bytes at \(offset) past a \(buffer.byteCount)-byte buffer")
        guard host.count > 0 else { return }
        try device.check(functions.cuMemcpyDtoHAsync(host.baseAddress, buffer.address + CUdeviceptr(offset), host.count, handle),
                         "cuMemcpyDtoHAsync(\(host.count) bytes)")
        try synchronize()
    }

    /// Queues a device-to-device copy of `byteCount` bytes.
    public func copy(from source: DeviceBuffer, to destination: DeviceBuffer, byteCount: Int) throws {
        precondition(byteCount <= source.byteCount && byteCount <= destination.byteCount, "device copy past a buffer's end")
        guard byteCount > 0 else { return }
        try device.check(functions.cuMemcpyDtoDAsync(destination.address, source.address, byteCount, handle),
                         "cuMemcpyDtoDAsync(\(byteCount) bytes)")
    }

    /// Queues setting every byte of `buffer` to `value` (0xFF poisons fp32 and bf16 as NaN).
    public func fill(_ buffer: DeviceBuffer, byte value: UInt8) throws {
        guard buffer.byteCount > 0 else { return }
        try device.check(functions.cuMemsetD8Async(buffer.address, value, buffer.byteCount, handle), "cuMemsetD8Async")
    }

    /// Uploads `values` into `buffer` (which must hold them).
    public func upload<Element: BitwiseCopyable>(_ values: [Element], to buffer: DeviceBuffer) throws {
        try values.withUnsafeBytes { try copy(from: $0, to: buffer) }
    }

    /// Downloads the first `count` elements of `buffer`.
    public func download<Element: BitwiseCopyable>(_ type: Element.Type, count: Int, from buffer: DeviceBuffer) throws -> [Element] {
        try [Element](unsafeUninitializedCapacity: count) { elements, initialized in
            try copy(from: buffer, to: UnsafeMutableRawBufferPointer(elements))
            initialized = count
        }
    }

    /// Queues `function` over `grid` blocks of `block` threads with `sharedBytes` of dynamic
    /// shared memory.
    public func launch(_ function: CUDAFunction, grid: (x: Int, y: Int, z: Int), block: (x: Int, y: Int, z: Int),
                       sharedBytes: Int = 0, cluster: (x: Int, y: Int, z: Int)? = nil, arguments: KernelArguments) throws {
        if let profiler {
            try profiler.measure(function.name, on: self) {
                try launchNow(function, grid: grid, block: block, sharedBytes: sharedBytes, cluster: cluster, arguments: arguments)
            }
        } else {
            try launchNow(function, grid: grid, block: block, sharedBytes: sharedBytes, cluster: cluster, arguments: arguments)
        }
    }

    /// `cluster`: thread-block cluster dimensions (sm_90; grid a multiple of them), launched
    /// through cuLaunchKernelEx like programmatic launches.
    private func launchNow(_ function: CUDAFunction, grid: (x: Int, y: Int, z: Int), block: (x: Int, y: Int, z: Int),
                           sharedBytes: Int, cluster: (x: Int, y: Int, z: Int)?, arguments: KernelArguments) throws {
        precondition(grid.x > 0 && grid.y > 0 && grid.z > 0 && block.x > 0 && block.y > 0 && block.z > 0, "\(function.name): empty launch")
        var slots = arguments.slots
        let programmatic = programmaticLaunches && function.waitsForPrerequisites
        let extended = programmatic || cluster != nil ? device.driver.extendedLaunch : nil
        if cluster != nil && extended == nil {
            throw KilnError.unsupported(path: function.name, reason: "a thread-block cluster launch needs cuLaunchKernelEx (CUDA 12 driver or newer)")
        }
        let result = slots.withUnsafeMutableBufferPointer { values -> CUresult in
            var pointers: [UnsafeMutableRawPointer?] = arguments.starts.map { UnsafeMutableRawPointer(values.baseAddress! + $0) }
            return pointers.withUnsafeMutableBufferPointer { parameters in
                guard let extended else {
                    return functions.cuLaunchKernel(function.handle, UInt32(grid.x), UInt32(grid.y), UInt32(grid.z),
                                                    UInt32(block.x), UInt32(block.y), UInt32(block.z), UInt32(sharedBytes), handle,
                                                    parameters.baseAddress, nil)
                }
                // CUlaunchConfig (56 bytes: 7 uint32 dims and shared bytes, the stream at 32, the
                // attributes at 40, their count at 48) with up to two CUlaunchAttributes (72 bytes
                // each: id, padding, a 64-byte value): CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION
                // (6) = 1, CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION (4) = three uint32.
                return withUnsafeTemporaryAllocation(byteCount: 56 + 2 * 72, alignment: 8) { raw -> CUresult in
                    raw.initializeMemory(as: UInt8.self, repeating: 0)
                    let base = raw.baseAddress!
                    base.storeBytes(of: UInt32(grid.x), toByteOffset: 0, as: UInt32.self)
                    base.storeBytes(of: UInt32(grid.y), toByteOffset: 4, as: UInt32.self)
                    base.storeBytes(of: UInt32(grid.z), toByteOffset: 8, as: UInt32.self)
                    base.storeBytes(of: UInt32(block.x), toByteOffset: 12, as: UInt32.self)
                    base.storeBytes(of: UInt32(block.y), toByteOffset: 16, as: UInt32.self)
                    base.storeBytes(of: UInt32(block.z), toByteOffset: 20, as: UInt32.self)
                    base.storeBytes(of: UInt32(sharedBytes), toByteOffset: 24, as: UInt32.self)
                    base.storeBytes(of: UInt(bitPattern: handle), toByteOffset: 32, as: UInt.self)
                    base.storeBytes(of: UInt(bitPattern: base + 56), toByteOffset: 40, as: UInt.self)
                    var count = 0
                    if programmatic {
                        base.storeBytes(of: UInt32(6), toByteOffset: 56 + 72 * count, as: UInt32.self)
                        base.storeBytes(of: Int32(1), toByteOffset: 56 + 72 * count + 8, as: Int32.self)
                        count += 1
                    }
                    if let cluster {
                        base.storeBytes(of: UInt32(4), toByteOffset: 56 + 72 * count, as: UInt32.self)
                        base.storeBytes(of: UInt32(cluster.x), toByteOffset: 56 + 72 * count + 8, as: UInt32.self)
                        base.storeBytes(of: UInt32(cluster.y), toByteOffset: 56 + 72 * count + 12, as: UInt32.self)
                        base.storeBytes(of: UInt32(cluster.z), toByteOffset: 56 + 72 * count + 16, as: UInt32.self)
                        count += 1
                    }
                    base.storeBytes(of: UInt32(count), toByteOffset: 48, as: UInt32.self)
                    return extended.cuLaunchKernelEx(UnsafeRawPointer(base), function.handle, parameters.baseAddress, nil)
                }
            }
        }
        try device.check(result, "cuLaunchKernel(\(function.name), grid \(grid.x)x\(grid.y)x\(grid.z), block \(block.x)x\(block.y)x\(block.z))")
    }
}
