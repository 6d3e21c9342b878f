import Foundation
import KilnCore

/// NVRTC, CUDA's run-time compiler: CUDA C++ source to a CUBIN (machine code for one
/// architecture, which the driver loads without a JIT step).
public final class NVRTCCompiler: @unchecked Sendable {
    /// The opened library.
    public let library: DynamicLibrary
    /// NVRTC's version (13, 0).
    public let version: (major: Int, minor: Int)
    let functions: NVRTCFunctions

    /// Opens the first NVRTC found by `locations` whose major version is at most
    /// `maximumMajor` (a CUBIN from NVRTC 13 needs a CUDA 13 driver; nil: any).
    public init(locations: CUDALibraryLocations = CUDALibraryLocations(), maximumMajor: Int? = nil) throws {
        var search = locations.nvrtc()
        if let maximumMajor {
            search.advice = "The driver supports CUDA \(maximumMajor): it needs an NVRTC of major version \(maximumMajor) or older "
                + "(`python3 -m pip install nvidia-cuda-nvrtc-cu\(maximumMajor)`), or update the driver. " + search.advice
        }
        var opened: (NVRTCFunctions, (Int, Int))?
        library = try DynamicLibrary.open(search) { library in
            guard let functions = try? NVRTCFunctions(library) else { return "not a usable NVRTC: functions missing" }
            var major: Int32 = 0, minor: Int32 = 0
            guard functions.nvrtcVersion(&major, &minor) == 0 else { return "nvrtcVersion failed" }
            if let maximumMajor, Int(major) > maximumMajor { return "NVRTC \(major).\(minor) is newer than the driver's CUDA \(maximumMajor)" }
            opened = (functions, (Int(major), Int(minor)))
            return nil
        }
        (functions, version) = opened!
    }

    /// "13.0".
    public var versionText: String { "\(version.major).\(version.minor)" }

    /// Compiles `source` (named `fileName` in messages) with `headers` (include name -> text)
    /// and `options` to a CUBIN. Throws a `KilnError` carrying NVRTC's log when it fails.
    public func compile(source: String, fileName: String, headers: [(name: String, text: String)], options: [String]) throws -> [UInt8] {
        var program: CUhandle?
        let created = withCStrings(headers.map(\.text)) { headerTexts in
            withCStrings(headers.map(\.name)) { headerNames in
                functions.nvrtcCreateProgram(&program, source, fileName, Int32(headers.count), headerTexts, headerNames)
            }
        }
        try check(created, "nvrtcCreateProgram", fileName)
        defer { _ = functions.nvrtcDestroyProgram(&program) }
        let compiled = withCStrings(options) { functions.nvrtcCompileProgram(program, Int32(options.count), $0) }
        if compiled != 0 {
            let log = programLog(program)
            throw KilnError.invalidFile(
                path: fileName,
                reason: "NVRTC \(versionText) (\(library.path)) could not compile it with \(options.joined(separator: " ")): \(errorText(compiled))\n\(log)")
        }
        var size = 0
        try check(functions.nvrtcGetCUBINSize(program, &size), "nvrtcGetCUBINSize", fileName)
        guard size > 0 else {
            throw KilnError.invalidFile(path: fileName, reason: "NVRTC \(versionText) produced no CUBIN (options \(options.joined(separator: " ")): a real architecture, sm_XY, is needed)")
        }
        var cubin = [UInt8](repeating: 0, count: size)
        let result = cubin.withUnsafeMutableBytes { functions.nvrtcGetCUBIN(program, $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
        try check(result, "nvrtcGetCUBIN", fileName)
        return cubin
    }

    /// Compiles to PTX (for a `compute_XY` target), for inspection.
    public func compileToPTX(source: String, fileName: String, headers: [(name: String, text: String)], options: [String]) throws -> String {
        var program: CUhandle?
        let created = withCStrings(headers.map(\.text)) { headerTexts in
            withCStrings(headers.map(\.name)) { headerNames in
                functions.nvrtcCreateProgram(&program, source, fileName, Int32(headers.count), headerTexts, headerNames)
            }
        }
        try check(created, "nvrtcCreateProgram", fileName)
        defer { _ = functions.nvrtcDestroyProgram(&program) }
        let compiled = withCStrings(options) { functions.nvrtcCompileProgram(program, Int32(options.count), $0) }
        if compiled != 0 {
            throw KilnError.invalidFile(path: fileName, reason: "NVRTC \(versionText) could not compile it: \(errorText(compiled))\n\(programLog(program))")
        }
        var size = 0
        try check(functions.nvrtcGetPTXSize(program, &size), "nvrtcGetPTXSize", fileName)
        var ptx = [CChar](repeating: 0, count: max(size, 1))
        try check(functions.nvrtcGetPTX(program, &ptx), "nvrtcGetPTX", fileName)
        return String(decoding: ptx.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func programLog(_ program: CUhandle?) -> String {
        var size = 0
        guard functions.nvrtcGetProgramLogSize(program, &size) == 0, size > 1 else { return "(no log)" }
        var log = [CChar](repeating: 0, count: size)
        guard functions.nvrtcGetProgramLog(program, &log) == 0 else { return "(no log)" }
        return String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func errorText(_ result: CUresult) -> String {
        functions.nvrtcGetErrorString(result).map { String(cString: $0) } ?? "NVRTC error \(result)"
    }

    private func check(_ result: CUresult, _ call: String, _ fileName: String) throws {
        guard result != 0 else { return }
        throw KilnError.invalidFile(path: fileName, reason: "\(call) failed: \(errorText(result)) (NVRTC \(versionText), \(library.path))")
    }
}

/// Calls `body` with a C array of C strings (valid only during the call).
private func withCStrings<Result>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> Result) -> Result {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer($0) }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}
