/// Everything a GPU user needs, opened in order: the driver, one device (its context current on
/// the calling thread), NVRTC (no newer than the driver), the kernel cache, the kernels, and a
/// caching allocator. The seam a `CUDABackend` builds on.
public final class CUDARuntime: @unchecked Sendable {
    /// The driver library.
    public let driver: CUDADriver
    /// The GPU.
    public let device: CUDADevice
    /// The kernels (compiled or cached on first use).
    public let kernels: CUDAKernels
    /// Device memory.
    public let allocator: DeviceAllocator

    /// Opens GPU `ordinal`. Throws a `KilnError` naming what is missing (driver, GPU, NVRTC).
    public init(ordinal: Int = 0, cacheDirectory: String? = KernelCache.defaultDirectory(),
                locations: CUDALibraryLocations = CUDALibraryLocations()) throws {
        driver = try CUDADriver(locations: locations)
        device = try CUDADevice(driver: driver, ordinal: ordinal)
        let compiler = try NVRTCCompiler(locations: locations, maximumMajor: driver.version / 1000)
        kernels = CUDAKernels(device: device, compiler: compiler, cache: KernelCache(directory: cacheDirectory))
        allocator = DeviceAllocator(memory: device)
    }
}
