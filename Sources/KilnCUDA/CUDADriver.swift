import KilnCore

/// The NVIDIA driver's CUDA library (libcuda.so.1), opened and initialised (`cuInit`).
public final class CUDADriver: @unchecked Sendable {
    /// Oldest driver Kiln runs on: CUDA 12.0 (driver 525).
    public static let minimumVersion = 12_000

    /// The opened library.
    public let library: DynamicLibrary
    /// `cuDriverGetVersion`: 1000 * major + 10 * minor (13000 is CUDA 13.0).
    public let version: Int
    let functions: DriverFunctions
    /// CUDA graph calls; nil when this driver lacks one (steps then run without graphs).
    let graphFunctions: GraphFunctions?
    /// cuLaunchKernelEx; nil when this driver lacks it.
    let extendedLaunch: ExtendedLaunchFunctions?
    /// Graph node reads (CUDA 12.3+) for diagnostics; nil when this driver lacks them.
    let graphInspection: GraphInspection?

    /// Opens libcuda and calls `cuInit`. Throws a `KilnError` saying what is missing: the
    /// library (no driver installed), a driver too old, or no GPU.
    public init(locations: CUDALibraryLocations = CUDALibraryLocations()) throws {
        library = try DynamicLibrary.open(locations.driver())
        functions = try DriverFunctions(library)
        graphFunctions = try? GraphFunctions(library)
        extendedLaunch = try? ExtendedLaunchFunctions(library)
        graphInspection = try? GraphInspection(library)
        var driverVersion: Int32 = 0
        _ = functions.cuDriverGetVersion(&driverVersion)
        version = Int(driverVersion)
        guard version >= Self.minimumVersion else {
            throw KilnError.unsupported(
                path: library.path,
                reason: "the NVIDIA driver supports CUDA \(Self.versionText(version)), Kiln needs CUDA \(Self.versionText(Self.minimumVersion)) or newer: update the driver (525 or newer), or run with --backend cpu")
        }
        let result = functions.cuInit(0)
        switch result {
        case CUDAConstant.success:
            break
        case CUDAConstant.errorNoDevice:
            throw Self.noGPU(library.path, detail: "cuInit: \(errorText(result))")
        case CUDAConstant.errorInsufficientDriver:
            throw KilnError.unsupported(path: library.path, reason: "cuInit: \(errorText(result)): the NVIDIA driver is too old for this GPU or system; update it, or run with --backend cpu")
        default:
            throw KilnError.unsupported(path: library.path, reason: "cuInit failed: \(errorText(result)); check that `nvidia-smi` sees the GPU, or run with --backend cpu")
        }
    }

    /// Number of CUDA devices.
    public func deviceCount() throws -> Int {
        var count: Int32 = 0
        try check(functions.cuDeviceGetCount(&count), "cuDeviceGetCount")
        return Int(count)
    }

    /// "13.0" for 13000.
    public static func versionText(_ version: Int) -> String { "\(version / 1000).\(version % 1000 / 10)" }

    /// `CUDA_ERROR_OUT_OF_MEMORY (out of memory)`.
    func errorText(_ result: CUresult) -> String {
        var name: UnsafePointer<CChar>?
        var text: UnsafePointer<CChar>?
        _ = functions.cuGetErrorName(result, &name)
        _ = functions.cuGetErrorString(result, &text)
        let nameText = name.map { String(cString: $0) } ?? "CUDA error \(result)"
        return text.map { "\(nameText) (\(String(cString: $0)))" } ?? nameText
    }

    /// Throws a `KilnError` naming `call` when `result` is not success.
    func check(_ result: CUresult, _ call: @autoclosure () -> String, device: String = "cuda") throws {
        guard result != CUDAConstant.success else { return }
        throw KilnError.invalidArgument("\(device): \(call()) failed: \(errorText(result))")
    }

    /// The error for a machine without a usable GPU.
    static func noGPU(_ path: String, detail: String) -> KilnError {
        KilnError.unsupported(path: path, reason: "no CUDA GPU found (\(detail)); check `nvidia-smi` (in a container: --gpus all), or run with --backend cpu")
    }
}
