import Foundation
import KilnCore

/// cuBLASLt (libcublasLt.so), opened with `dlopen`, with one handle made on a device. The
/// library every matrix product goes through; `MatmulEngine` is the part Kiln calls.
public final class CuBLASLt: @unchecked Sendable {
    /// The opened library.
    public let library: DynamicLibrary
    /// The GPU the handle was made on (its context current when it was).
    public let device: CUDADevice
    /// `cublasLtGetVersion`: major * 10000 + minor * 100 + patch (130100 is 13.1.0).
    public let version: Int
    /// `cublasLtGetCudartVersion`: the CUDA version it was built for (13000 is CUDA 13.0).
    public let cudaVersion: Int
    let functions: CuBLASLtFunctions
    let handle: CUhandle

    /// Opens cuBLASLt for `device`: the first library found by `locations` built for a CUDA major
    /// version the driver supports. Throws a `KilnError` naming every place looked in and what
    /// to install when there is none.
    public init(device: CUDADevice, locations: CUDALibraryLocations = CUDALibraryLocations()) throws {
        self.device = device
        let (library, functions) = try Self.open(locations.cublasLt(), maximumMajor: device.driver.version / 1000)
        self.library = library
        self.functions = functions
        version = functions.cublasLtGetVersion()
        cudaVersion = functions.cublasLtGetCudartVersion()
        try device.makeCurrent()
        var created: CUhandle?
        let status = functions.cublasLtCreate(&created)
        guard status == CuBLASLtConstant.statusSuccess, let created else {
            throw KilnError.unsupported(path: library.path, reason: "cublasLtCreate on \(device.label) (\(device.name)) failed: \(Self.statusText(status, functions))")
        }
        handle = created
    }

    deinit { _ = functions.cublasLtDestroy(handle) }

    /// Opens the first candidate of `search` that has every function Kiln calls and, when
    /// `maximumMajor` is given, was built for that CUDA major version or an older one (a
    /// libcublasLt.so.13 does not run on a CUDA 12 driver).
    static func open(_ search: LibrarySearch, maximumMajor: Int?) throws -> (DynamicLibrary, CuBLASLtFunctions) {
        var search = search
        if let maximumMajor {
            search.advice = "The driver supports CUDA \(maximumMajor): it needs a cuBLASLt built for CUDA \(maximumMajor) or older "
                + "(`python3 -m pip install nvidia-cublas-cu\(maximumMajor)`), or a driver update. " + search.advice
        }
        var opened: CuBLASLtFunctions?
        let library = try DynamicLibrary.open(search) { library in
            guard let functions = try? CuBLASLtFunctions(library) else { return "not a usable cuBLASLt: functions missing (Kiln needs CUDA 12 or newer)" }
            let builtFor = functions.cublasLtGetCudartVersion()
            if let maximumMajor, builtFor / 1000 > maximumMajor {
                return "cuBLASLt \(versionText(functions.cublasLtGetVersion())) is built for CUDA \(CUDADriver.versionText(builtFor)), newer than the driver's CUDA \(maximumMajor)"
            }
            opened = functions
            return nil
        }
        return (library, opened!)
    }

    /// "13.1.0" for 130100.
    public static func versionText(_ version: Int) -> String { "\(version / 10000).\(version / 100 % 100).\(version % 100)" }

    /// "13.1.0".
    public var versionText: String { Self.versionText(version) }

    /// `CUBLAS_STATUS_NOT_SUPPORTED (the functionality requested is not supported)`.
    static func statusText(_ status: CublasStatus, _ functions: CuBLASLtFunctions) -> String {
        let name = functions.cublasLtGetStatusName(status).map { String(cString: $0) } ?? "cuBLAS status \(status)"
        guard let text = functions.cublasLtGetStatusString(status).map({ String(cString: $0) }), !text.isEmpty else { return name }
        return "\(name) (\(text))"
    }

    /// Throws a `KilnError` naming the device and `call` when `status` is not success.
    func check(_ status: CublasStatus, _ call: @autoclosure () -> String) throws {
        guard status != CuBLASLtConstant.statusSuccess else { return }
        throw KilnError.invalidArgument("\(device.label) (\(device.name)): cuBLASLt \(versionText): \(call()) failed: \(Self.statusText(status, functions))")
    }
}

extension CUDALibraryLocations {
    /// The cuBLASLt search: the same places as NVRTC (`KILN_CUDA_LIBRARY_PATH`, the loader's
    /// path, the toolkit, and pip's `site-packages/nvidia/*/lib`: `nvidia-cublas` puts
    /// libcublasLt.so.13 in `nvidia/cu13/lib`, `nvidia-cublas-cu12` libcublasLt.so.12 in
    /// `nvidia/cublas/lib`), newest major version first within each folder.
    public func cublasLt(extraDirectories: [String] = []) -> LibrarySearch {
        let sites = sitePackagesDirectories()
        return LibrarySearch(
            what: "cuBLASLt, CUDA's matrix-product library",
            fileNames: ["libcublasLt.so", "libcublasLt.so.13", "libcublasLt.so.12"],
            probeSymbol: "cublasLtCreate",
            preferredDirectories: userDirectories,
            useLoaderPath: true,
            directories: toolkitDirectories + pythonLibraryDirectories(sitePackages: sites) + extraDirectories,
            advice: "Python site-packages searched for nvidia/*/lib: \(sites.isEmpty ? "none found" : sites.joined(separator: ", ")). "
                + "Install it with `python3 -m pip install nvidia-cublas` (CUDA 13; `nvidia-cublas-cu12` for a CUDA 12 driver) "
                + "or the CUDA toolkit, or set CUDA_HOME or KILN_CUDA_LIBRARY_PATH to the folder that holds libcublasLt.so; "
                + "or run with --backend cpu")
    }
}
