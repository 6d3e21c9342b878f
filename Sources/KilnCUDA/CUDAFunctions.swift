// The only place Kiln declares CUDA's C API: the driver (libcuda.so.1) and NVRTC (libnvrtc.so)
// functions it calls, as `@convention(c)` function-pointer types resolved with `dlsym`, and the
// few enum values it passes. Nothing here links against CUDA: `swift build` needs no toolkit.
// Signatures follow cuda.h / nvrtc.h (CUDA 12 and 13); `_v2` names are the ones cuda.h's
// macros select for the plain names (cuMemAlloc -> cuMemAlloc_v2, ...).

/// `CUdeviceptr`: a device address.
public typealias CUdeviceptr = UInt64
/// `CUresult` / `nvrtcResult`: 0 is success.
typealias CUresult = Int32
/// Opaque handles (`CUcontext`, `CUmodule`, `CUfunction`, `CUstream`, `CUevent`, `nvrtcProgram`).
typealias CUhandle = OpaquePointer

/// Enum values of cuda.h that Kiln passes.
enum CUDAConstant {
    static let success: CUresult = 0
    static let errorOutOfMemory: CUresult = 2
    static let errorNoDevice: CUresult = 100
    static let errorInsufficientDriver: CUresult = 35
    static let attributeMaxThreadsPerBlock: Int32 = 1
    static let attributeMultiprocessorCount: Int32 = 16
    static let attributeL2CacheSize: Int32 = 38
    static let attributeComputeCapabilityMajor: Int32 = 75
    static let attributeComputeCapabilityMinor: Int32 = 76
    static let attributeMaxSharedMemoryPerBlockOptin: Int32 = 97
    static let functionAttributeMaxDynamicSharedSize: Int32 = 8
    static let streamNonBlocking: UInt32 = 1
    static let eventDefault: UInt32 = 0
    /// CU_STREAM_CAPTURE_MODE_RELAXED: allocation calls (cuMemAlloc) are allowed while capturing.
    static let captureModeRelaxed: UInt32 = 2
}

/// `cuLaunchKernelEx` (CUDA 12.0+): a launch with attributes, here programmatic stream
/// serialization (programmatic dependent launch). Resolved on its own: without it, launches are
/// plain.
struct ExtendedLaunchFunctions: @unchecked Sendable {
    /// (const CUlaunchConfig*, function, kernel parameters, extra)
    let cuLaunchKernelEx: @convention(c) (UnsafeRawPointer, CUhandle?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                          UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> CUresult

    init(_ library: DynamicLibrary) throws {
        cuLaunchKernelEx = try library.function("cuLaunchKernelEx")
    }
}

/// The CUDA graph functions (driver API 10+; cuGraphInstantiateWithFlags 11.4+), resolved
/// separately so that a driver without them only turns graphs off.
struct GraphFunctions: @unchecked Sendable {
    let cuStreamBeginCapture: @convention(c) (CUhandle?, UInt32) -> CUresult
    let cuStreamEndCapture: @convention(c) (CUhandle?, UnsafeMutablePointer<CUhandle?>) -> CUresult
    let cuGraphInstantiateWithFlags: @convention(c) (UnsafeMutablePointer<CUhandle?>, CUhandle?, UInt64) -> CUresult
    let cuGraphLaunch: @convention(c) (CUhandle?, CUhandle?) -> CUresult
    let cuGraphExecDestroy: @convention(c) (CUhandle?) -> CUresult
    let cuGraphDestroy: @convention(c) (CUhandle?) -> CUresult

    init(_ library: DynamicLibrary) throws {
        cuStreamBeginCapture = try library.function("cuStreamBeginCapture_v2")
        cuStreamEndCapture = try library.function("cuStreamEndCapture")
        cuGraphInstantiateWithFlags = try library.function("cuGraphInstantiateWithFlags")
        cuGraphLaunch = try library.function("cuGraphLaunch")
        cuGraphExecDestroy = try library.function("cuGraphExecDestroy")
        cuGraphDestroy = try library.function("cuGraphDestroy")
    }
}

/// The driver API functions Kiln calls, resolved from libcuda.so.1.
struct DriverFunctions: @unchecked Sendable {
    let cuInit: @convention(c) (UInt32) -> CUresult
    let cuDriverGetVersion: @convention(c) (UnsafeMutablePointer<Int32>) -> CUresult
    let cuGetErrorName: @convention(c) (CUresult, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> CUresult
    let cuGetErrorString: @convention(c) (CUresult, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> CUresult
    let cuDeviceGetCount: @convention(c) (UnsafeMutablePointer<Int32>) -> CUresult
    let cuDeviceGet: @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> CUresult
    let cuDeviceGetName: @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> CUresult
    let cuDeviceGetAttribute: @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> CUresult
    let cuDeviceTotalMem: @convention(c) (UnsafeMutablePointer<Int>, Int32) -> CUresult
    let cuDevicePrimaryCtxRetain: @convention(c) (UnsafeMutablePointer<CUhandle?>, Int32) -> CUresult
    let cuDevicePrimaryCtxRelease: @convention(c) (Int32) -> CUresult
    let cuCtxSetCurrent: @convention(c) (CUhandle?) -> CUresult
    let cuMemGetInfo: @convention(c) (UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>) -> CUresult
    let cuMemAlloc: @convention(c) (UnsafeMutablePointer<CUdeviceptr>, Int) -> CUresult
    let cuMemFree: @convention(c) (CUdeviceptr) -> CUresult
    let cuMemcpyHtoD: @convention(c) (CUdeviceptr, UnsafeRawPointer?, Int) -> CUresult
    let cuMemcpyDtoH: @convention(c) (UnsafeMutableRawPointer?, CUdeviceptr, Int) -> CUresult
    let cuMemcpyDtoD: @convention(c) (CUdeviceptr, CUdeviceptr, Int) -> CUresult
    let cuMemcpyHtoDAsync: @convention(c) (CUdeviceptr, UnsafeRawPointer?, Int, CUhandle?) -> CUresult
    let cuMemcpyDtoHAsync: @convention(c) (UnsafeMutableRawPointer?, CUdeviceptr, Int, CUhandle?) -> CUresult
    let cuMemcpyDtoDAsync: @convention(c) (CUdeviceptr, CUdeviceptr, Int, CUhandle?) -> CUresult
    let cuMemsetD8: @convention(c) (CUdeviceptr, UInt8, Int) -> CUresult
    let cuMemsetD8Async: @convention(c) (CUdeviceptr, UInt8, Int, CUhandle?) -> CUresult
    let cuStreamCreate: @convention(c) (UnsafeMutablePointer<CUhandle?>, UInt32) -> CUresult
    let cuStreamDestroy: @convention(c) (CUhandle?) -> CUresult
    let cuStreamSynchronize: @convention(c) (CUhandle?) -> CUresult
    let cuEventCreate: @convention(c) (UnsafeMutablePointer<CUhandle?>, UInt32) -> CUresult
    let cuEventDestroy: @convention(c) (CUhandle?) -> CUresult
    let cuEventRecord: @convention(c) (CUhandle?, CUhandle?) -> CUresult
    let cuEventSynchronize: @convention(c) (CUhandle?) -> CUresult
    let cuEventElapsedTime: @convention(c) (UnsafeMutablePointer<Float>, CUhandle?, CUhandle?) -> CUresult
    let cuModuleLoadData: @convention(c) (UnsafeMutablePointer<CUhandle?>, UnsafeRawPointer) -> CUresult
    let cuModuleUnload: @convention(c) (CUhandle?) -> CUresult
    let cuModuleGetFunction: @convention(c) (UnsafeMutablePointer<CUhandle?>, CUhandle?, UnsafePointer<CChar>) -> CUresult
    /// (address, bytes, module, name): a module's `__device__` variable. Optional: only the kernel
    /// tracer (KILN_TRACE) uses it, so a driver without it must not stop the backend.
    let cuModuleGetGlobal: (@convention(c) (UnsafeMutablePointer<CUdeviceptr>, UnsafeMutablePointer<Int>, CUhandle?, UnsafePointer<CChar>) -> CUresult)?
    let cuFuncSetAttribute: @convention(c) (CUhandle?, Int32, Int32) -> CUresult
    /// (value, attribute, function). Optional: only diagnostics (registers a thread) use it.
    let cuFuncGetAttribute: (@convention(c) (UnsafeMutablePointer<Int32>, Int32, CUhandle?) -> CUresult)?
    /// (blocks, function, threads a block, dynamic shared bytes). Optional: diagnostics only.
    let cuOccupancyMaxActiveBlocksPerMultiprocessor: (@convention(c) (UnsafeMutablePointer<Int32>, CUhandle?, Int32, Int) -> CUresult)?
    /// (function, grid x/y/z, block x/y/z, dynamic shared bytes, stream, kernel parameters, extra)
    /// Waits for all of the current context's work. Optional: only the allocator's cache release uses it.
    let cuCtxSynchronize: (@convention(c) () -> CUresult)?
    /// (pointer, bytes): page-locked host memory, and its release. Optional: only queued greedy
    /// steps (`queueArgmaxRows`) use them, and they fall back to waiting without them.
    let cuMemAllocHost: (@convention(c) (UnsafeMutablePointer<UnsafeMutableRawPointer?>, Int) -> CUresult)?
    let cuMemFreeHost: (@convention(c) (UnsafeMutableRawPointer?) -> CUresult)?
    /// (map, data type, rank, global address, global dims, global strides (rank - 1, bytes), box
    /// dims, element strides, interleave, swizzle, L2 promotion, out-of-bounds fill): a tensor map
    /// for the bulk tensor copies (CUDA 12.0+). Optional: only the skinny kernel's TMA variants use it.
    let cuTensorMapEncodeTiled: (@convention(c) (UnsafeMutableRawPointer, UInt32, UInt32, UnsafeMutableRawPointer?,
                                                 UnsafePointer<UInt64>, UnsafePointer<UInt64>, UnsafePointer<UInt32>,
                                                 UnsafePointer<UInt32>, UInt32, UInt32, UInt32, UInt32) -> CUresult)?
    let cuLaunchKernel: @convention(c) (CUhandle?, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, CUhandle?,
                                        UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> CUresult

    /// Resolves every function; a missing one means a driver older than Kiln supports.
    init(_ library: DynamicLibrary) throws {
        cuInit = try library.function("cuInit")
        cuDriverGetVersion = try library.function("cuDriverGetVersion")
        cuGetErrorName = try library.function("cuGetErrorName")
        cuGetErrorString = try library.function("cuGetErrorString")
        cuDeviceGetCount = try library.function("cuDeviceGetCount")
        cuDeviceGet = try library.function("cuDeviceGet")
        cuDeviceGetName = try library.function("cuDeviceGetName")
        cuDeviceGetAttribute = try library.function("cuDeviceGetAttribute")
        cuDeviceTotalMem = try library.function("cuDeviceTotalMem_v2")
        cuDevicePrimaryCtxRetain = try library.function("cuDevicePrimaryCtxRetain")
        cuDevicePrimaryCtxRelease = try library.function("cuDevicePrimaryCtxRelease_v2")
        cuCtxSetCurrent = try library.function("cuCtxSetCurrent")
        cuMemGetInfo = try library.function("cuMemGetInfo_v2")
        cuMemAlloc = try library.function("cuMemAlloc_v2")
        cuMemFree = try library.function("cuMemFree_v2")
        cuMemcpyHtoD = try library.function("cuMemcpyHtoD_v2")
        cuMemcpyDtoH = try library.function("cuMemcpyDtoH_v2")
        cuMemcpyDtoD = try library.function("cuMemcpyDtoD_v2")
        cuMemcpyHtoDAsync = try library.function("cuMemcpyHtoDAsync_v2")
        cuMemcpyDtoHAsync = try library.function("cuMemcpyDtoHAsync_v2")
        cuMemcpyDtoDAsync = try library.function("cuMemcpyDtoDAsync_v2")
        cuMemsetD8 = try library.function("cuMemsetD8_v2")
        cuMemsetD8Async = try library.function("cuMemsetD8Async")
        cuStreamCreate = try library.function("cuStreamCreate")
        cuStreamDestroy = try library.function("cuStreamDestroy_v2")
        cuStreamSynchronize = try library.function("cuStreamSynchronize")
        cuEventCreate = try library.function("cuEventCreate")
        cuEventDestroy = try library.function("cuEventDestroy_v2")
        cuEventRecord = try library.function("cuEventRecord")
        cuEventSynchronize = try library.function("cuEventSynchronize")
        cuEventElapsedTime = try library.function("cuEventElapsedTime")
        cuModuleLoadData = try library.function("cuModuleLoadData")
        cuModuleUnload = try library.function("cuModuleUnload")
        cuModuleGetFunction = try library.function("cuModuleGetFunction")
        cuModuleGetGlobal = try? library.function("cuModuleGetGlobal_v2")
        cuFuncSetAttribute = try library.function("cuFuncSetAttribute")
        cuFuncGetAttribute = try? library.function("cuFuncGetAttribute")
        cuOccupancyMaxActiveBlocksPerMultiprocessor = try? library.function("cuOccupancyMaxActiveBlocksPerMultiprocessor")
        cuCtxSynchronize = try? library.function("cuCtxSynchronize")
        cuMemAllocHost = try? library.function("cuMemAllocHost_v2")
        cuMemFreeHost = try? library.function("cuMemFreeHost")
        cuTensorMapEncodeTiled = try? library.function("cuTensorMapEncodeTiled")
        cuLaunchKernel = try library.function("cuLaunchKernel")
    }
}

/// The NVRTC functions Kiln calls, resolved from libnvrtc.so.
struct NVRTCFunctions: @unchecked Sendable {
    let nvrtcVersion: @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> CUresult
    let nvrtcGetErrorString: @convention(c) (CUresult) -> UnsafePointer<CChar>?
    /// (program, source, name, header count, header sources, header include names)
    let nvrtcCreateProgram: @convention(c) (UnsafeMutablePointer<CUhandle?>, UnsafePointer<CChar>, UnsafePointer<CChar>?, Int32,
                                            UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?) -> CUresult
    let nvrtcDestroyProgram: @convention(c) (UnsafeMutablePointer<CUhandle?>) -> CUresult
    let nvrtcCompileProgram: @convention(c) (CUhandle?, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> CUresult
    let nvrtcGetProgramLogSize: @convention(c) (CUhandle?, UnsafeMutablePointer<Int>) -> CUresult
    let nvrtcGetProgramLog: @convention(c) (CUhandle?, UnsafeMutablePointer<CChar>) -> CUresult
    let nvrtcGetCUBINSize: @convention(c) (CUhandle?, UnsafeMutablePointer<Int>) -> CUresult
    let nvrtcGetCUBIN: @convention(c) (CUhandle?, UnsafeMutablePointer<CChar>) -> CUresult
    let nvrtcGetPTXSize: @convention(c) (CUhandle?, UnsafeMutablePointer<Int>) -> CUresult
    let nvrtcGetPTX: @convention(c) (CUhandle?, UnsafeMutablePointer<CChar>) -> CUresult

    /// Resolves every function.
    init(_ library: DynamicLibrary) throws {
        nvrtcVersion = try library.function("nvrtcVersion")
        nvrtcGetErrorString = try library.function("nvrtcGetErrorString")
        nvrtcCreateProgram = try library.function("nvrtcCreateProgram")
        nvrtcDestroyProgram = try library.function("nvrtcDestroyProgram")
        nvrtcCompileProgram = try library.function("nvrtcCompileProgram")
        nvrtcGetProgramLogSize = try library.function("nvrtcGetProgramLogSize")
        nvrtcGetProgramLog = try library.function("nvrtcGetProgramLog")
        nvrtcGetCUBINSize = try library.function("nvrtcGetCUBINSize")
        nvrtcGetCUBIN = try library.function("nvrtcGetCUBIN")
        nvrtcGetPTXSize = try library.function("nvrtcGetPTXSize")
        nvrtcGetPTX = try library.function("nvrtcGetPTX")
    }
}
