import KilnCore

/// One GPU with its primary context made current on the calling thread. Reads the properties
/// kernels are specialised for (architecture, multiprocessors, shared memory).
public final class CUDADevice: @unchecked Sendable {
    /// The driver it was opened through.
    public let driver: CUDADriver
    /// Device ordinal (`cuda:N`).
    public let ordinal: Int
    /// Marketing name ("NVIDIA H100 80GB HBM3").
    public let name: String
    /// Compute capability (9, 0 on Hopper).
    public let computeCapability: (major: Int, minor: Int)
    /// Streaming multiprocessors.
    public let multiprocessors: Int
    /// Device memory in bytes.
    public let totalMemory: Int
    /// Largest dynamic shared memory a block may opt in to, bytes.
    public let maxSharedMemoryPerBlock: Int
    /// L2 cache bytes.
    public let l2CacheBytes: Int
    let device: Int32
    let context: CUhandle

    /// Opens device `ordinal`: retains its primary context and makes it current.
    public init(driver: CUDADriver, ordinal: Int = 0) throws {
        self.driver = driver
        self.ordinal = ordinal
        let count = try driver.deviceCount()
        guard count > 0 else { throw CUDADriver.noGPU(driver.library.path, detail: "cuDeviceGetCount returned 0") }
        guard ordinal < count else {
            throw KilnError.invalidArgument("cuda:\(ordinal): no such GPU; this machine has \(count) (cuda:0...cuda:\(count - 1))")
        }
        let functions = driver.functions
        let label = "cuda:\(ordinal)"
        var handle: Int32 = 0
        try driver.check(functions.cuDeviceGet(&handle, Int32(ordinal)), "cuDeviceGet", device: label)
        device = handle
        var nameBuffer = [CChar](repeating: 0, count: 256)
        try driver.check(functions.cuDeviceGetName(&nameBuffer, 255, handle), "cuDeviceGetName", device: label)
        name = String(decoding: nameBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        func attribute(_ attribute: Int32, _ what: String) throws -> Int {
            var value: Int32 = 0
            try driver.check(functions.cuDeviceGetAttribute(&value, attribute, handle), "cuDeviceGetAttribute(\(what))", device: label)
            return Int(value)
        }
        computeCapability = (try attribute(CUDAConstant.attributeComputeCapabilityMajor, "compute capability major"),
                             try attribute(CUDAConstant.attributeComputeCapabilityMinor, "compute capability minor"))
        multiprocessors = try attribute(CUDAConstant.attributeMultiprocessorCount, "multiprocessors")
        maxSharedMemoryPerBlock = try attribute(CUDAConstant.attributeMaxSharedMemoryPerBlockOptin, "shared memory per block")
        l2CacheBytes = try attribute(CUDAConstant.attributeL2CacheSize, "L2 size")
        var bytes = 0
        try driver.check(functions.cuDeviceTotalMem(&bytes, handle), "cuDeviceTotalMem", device: label)
        totalMemory = bytes
        var primary: CUhandle?
        try driver.check(functions.cuDevicePrimaryCtxRetain(&primary, handle), "cuDevicePrimaryCtxRetain", device: label)
        guard let primary else { throw KilnError.invalidArgument("\(label): cuDevicePrimaryCtxRetain returned no context") }
        context = primary
        try makeCurrent()
    }

    deinit { _ = driver.functions.cuDevicePrimaryCtxRelease(device) }

    /// "cuda:0".
    public var label: String { "cuda:\(ordinal)" }

    /// The NVRTC target for this GPU: `sm_90a` on compute capability 9.0 (Hopper's
    /// architecture-specific instructions: wgmma, setmaxnreg), `sm_XY` otherwise.
    public var architecture: String { Self.architecture(major: computeCapability.major, minor: computeCapability.minor) }

    /// The NVRTC target for a compute capability.
    public static func architecture(major: Int, minor: Int) -> String {
        major == 9 && minor == 0 ? "sm_90a" : "sm_\(major)\(minor)"
    }

    /// Makes this device's context current on the calling thread (each thread that launches
    /// work must do so once).
    public func makeCurrent() throws {
        try check(driver.functions.cuCtxSetCurrent(context), "cuCtxSetCurrent")
    }

    /// Free and total device memory, bytes.
    public func memoryInfo() throws -> (free: Int, total: Int) {
        var free = 0, total = 0
        try check(driver.functions.cuMemGetInfo(&free, &total), "cuMemGetInfo")
        return (free, total)
    }

    /// Throws a `KilnError` naming this device and `call` when `result` is not success.
    func check(_ result: CUresult, _ call: @autoclosure () -> String) throws {
        try driver.check(result, call(), device: "\(label) (\(name))")
    }
}

extension CUDADevice: DeviceMemory {
    public func allocateRaw(byteCount: Int) throws -> CUdeviceptr? {
        var address: CUdeviceptr = 0
        let result = driver.functions.cuMemAlloc(&address, byteCount)
        if result == CUDAConstant.errorOutOfMemory { return nil }
        try check(result, "cuMemAlloc(\(byteCount) bytes)")
        return address
    }

    public func freeRaw(_ address: CUdeviceptr) {
        _ = driver.functions.cuMemFree(address)
    }

    public func waitForIdle() {
        _ = driver.functions.cuCtxSynchronize?()
    }

    public func freeAndTotalBytes() -> (free: Int, total: Int)? { try? memoryInfo() }

    public var memoryDescription: String { "\(label) (\(name))" }
}
