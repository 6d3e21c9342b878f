import Foundation
import KilnCore

/// A kernel loaded on a device.
public struct CUDAFunction: @unchecked Sendable {
    /// Its C name ("rms_norm_f32").
    public let name: String
    let handle: CUhandle?
    /// Whether its first statement waits for the kernels before it (`kiln_wait_prerequisites`),
    /// so it may be launched before they finish (programmatic dependent launch). Looked up once,
    /// here, not at every launch.
    let waitsForPrerequisites: Bool

    init(name: String, handle: CUhandle?) {
        self.name = name
        self.handle = handle
        waitsForPrerequisites = KernelLibrary.waitsForPrerequisites(name)
    }
}

/// The kernels of `KernelLibrary` on one device: each file compiled by NVRTC for the device's
/// architecture on first use (or read from the `KernelCache`), loaded as a module, and its
/// functions looked up once.
public final class CUDAKernels: @unchecked Sendable {
    /// The device the modules are loaded on.
    public let device: CUDADevice
    /// The compiler (its version is part of every cache key).
    public let compiler: NVRTCCompiler
    /// The on-disk cache.
    public let cache: KernelCache
    private let lock = NSLock()
    private var modules: [String: CUhandle] = [:]
    private var functions: [String: CUDAFunction] = [:]
    /// The kernel timeline tracer, when `KILN_TRACE` is set (KernelTracer.swift).
    public let tracer: KernelTracer?

    /// Kernels for `device`, compiled by `compiler`, cached in `cache`.
    public init(device: CUDADevice, compiler: NVRTCCompiler, cache: KernelCache) {
        self.device = device
        self.compiler = compiler
        self.cache = cache
        tracer = KernelTracer.outputPath == nil ? nil : try? KernelTracer(device: device, modules: KernelLibrary.sources.count)
    }

    deinit {
        for (_, module) in modules { _ = device.driver.functions.cuModuleUnload(module) }
    }

    /// Compiles (or reads from the cache) and loads every kernel file now, so later launches pay
    /// nothing. Returns how many files came from the cache.
    @discardableResult
    public func loadAll() throws -> (files: Int, cached: Int) {
        var cached = 0
        for source in KernelLibrary.sources where try loadModule(source) { cached += 1 }
        return (KernelLibrary.sources.count, cached)
    }

    /// The kernel `name`, loading its file if needed.
    public func function(_ name: String) throws -> CUDAFunction {
        lock.lock()
        if let function = functions[name] { lock.unlock(); return function }
        lock.unlock()
        guard let source = KernelLibrary.source(defining: name) else {
            throw KilnError.invalidArgument("no kernel named \(name) in Kiln's kernel library")
        }
        try loadModule(source)
        lock.lock()
        defer { lock.unlock() }
        let module = modules[source.fileName]
        var handle: CUhandle?
        try device.check(device.driver.functions.cuModuleGetFunction(&handle, module, name), "cuModuleGetFunction(\(name)) in \(source.fileName)")
        let function = CUDAFunction(name: name, handle: handle)
        functions[name] = function
        return function
    }

    /// Registers a thread and resident blocks an SM at `threads` and `sharedBytes` (diagnostics;
    /// nil when the driver lacks the queries).
    public func occupancy(_ function: CUDAFunction, threads: Int, sharedBytes: Int) -> (registers: Int, blocks: Int)? {
        let functions = device.driver.functions
        guard let getAttribute = functions.cuFuncGetAttribute, let occupancy = functions.cuOccupancyMaxActiveBlocksPerMultiprocessor else { return nil }
        var registers: Int32 = 0, blocks: Int32 = 0
        guard getAttribute(&registers, 4, function.handle) == 0,  // CU_FUNC_ATTRIBUTE_NUM_REGS
              occupancy(&blocks, function.handle, Int32(threads), sharedBytes) == 0 else { return nil }
        return (Int(registers), Int(blocks))
    }

    /// Sets a kernel's dynamic shared memory limit (needed above 48 KiB).
    public func setMaxDynamicSharedMemory(_ function: CUDAFunction, bytes: Int) throws {
        try device.check(device.driver.functions.cuFuncSetAttribute(function.handle, CUDAConstant.functionAttributeMaxDynamicSharedSize, Int32(bytes)),
                         "cuFuncSetAttribute(\(function.name), max dynamic shared memory \(bytes))")
    }

    /// Loads `source`'s module if it is not loaded; true when its CUBIN came from the cache.
    @discardableResult
    private func loadModule(_ source: KernelSource) throws -> Bool {
        lock.lock()
        if modules[source.fileName] != nil { lock.unlock(); return true }
        lock.unlock()
        let architecture = device.architecture
        let options = KernelLibrary.options(architecture: architecture)
        let key = KernelCache.key(source: source.text, headers: KernelLibrary.headers, options: options,
                                  architecture: architecture, compilerVersion: compiler.versionText)
        let (cubin, hit) = try cache.cubin(key: key) {
            try compiler.compile(source: source.text, fileName: source.fileName, headers: KernelLibrary.headers, options: options)
        }
        var module: CUhandle?
        let result = cubin.withUnsafeBytes { device.driver.functions.cuModuleLoadData(&module, $0.baseAddress!) }
        if result != CUDAConstant.success {
            throw KilnError.invalidFile(
                path: source.fileName,
                reason: "the driver (CUDA \(CUDADriver.versionText(device.driver.version))) could not load its \(architecture) CUBIN from NVRTC \(compiler.versionText): "
                    + "\(device.driver.errorText(result)); an NVRTC newer than the driver needs a driver update"
                    + (cache.path(key: key).map { " (cached at \($0))" } ?? ""))
        }
        lock.lock()
        defer { lock.unlock() }
        if let existing = modules[source.fileName] {
            _ = device.driver.functions.cuModuleUnload(module)
            _ = existing
        } else {
            modules[source.fileName] = module!
            try tracer?.attach(module: module, name: source.fileName)
        }
        return hit
    }
}
