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
    /// nothing. Returns how many files came from the cache (or were loaded already).
    ///
    /// NVRTC compiles the files at once, one per core (it is thread-safe, and compiling touches no
    /// CUDA context), largest first so the longest compile starts first; the modules are then
    /// loaded on this thread, which holds the context. A cold `kiln check gpu` on a 16-core H200
    /// machine spent 61-80 s compiling the 19 files one after another.
    @discardableResult
    public func loadAll() throws -> (files: Int, cached: Int) {
        lock.lock()
        let pending = KernelLibrary.sources.filter { modules[$0.fileName] == nil }.sorted { $0.text.utf8.count > $1.text.utf8.count }
        lock.unlock()
        var cached = KernelLibrary.sources.count - pending.count
        let cubins = Self.concurrentMap(pending) { try self.cubin(for: $0) }
        for (source, result) in zip(pending, cubins) {
            let compiled = try result.get()
            try load(source, cubin: compiled.bytes, key: compiled.key)
            if compiled.hit { cached += 1 }
        }
        return (KernelLibrary.sources.count, cached)
    }

    /// `body` over `items` on up to one thread per core, in order, each result or its error.
    static func concurrentMap<Item: Sendable, Value: Sendable>(_ items: [Item], _ body: @escaping @Sendable (Item) throws -> Value)
        -> [Result<Value, any Error>] {
        let results = ConcurrentResults<Value>(count: items.count)
        DispatchQueue.concurrentPerform(iterations: items.count) { index in
            results.set(index, Result { try body(items[index]) })
        }
        return results.all
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
        let compiled = try cubin(for: source)
        try load(source, cubin: compiled.bytes, key: compiled.key)
        return compiled.hit
    }

    /// `source`'s CUBIN for this device, from the cache or NVRTC (no CUDA call: any thread).
    private func cubin(for source: KernelSource) throws -> (bytes: [UInt8], hit: Bool, key: String) {
        let architecture = device.architecture
        let options = KernelLibrary.options(architecture: architecture)
        let key = KernelCache.key(source: source.text, headers: KernelLibrary.headers, options: options,
                                  architecture: architecture, compilerVersion: compiler.versionText)
        let (cubin, hit) = try cache.cubin(key: key) {
            try compiler.compile(source: source.text, fileName: source.fileName, headers: KernelLibrary.headers, options: options)
        }
        return (cubin, hit, key)
    }

    /// Loads `cubin` as `source`'s module (on a thread with the device's context current), unless
    /// another caller loaded it first.
    private func load(_ source: KernelSource, cubin: [UInt8], key: String) throws {
        let architecture = device.architecture
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
    }
}

/// The slots `CUDAKernels.concurrentMap` fills from its threads, behind a lock.
private final class ConcurrentResults<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<Value, any Error>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: Result<Value, any Error>) {
        lock.lock()
        slots[index] = result
        lock.unlock()
    }

    /// Every slot, once all are set.
    var all: [Result<Value, any Error>] {
        lock.lock()
        defer { lock.unlock() }
        return slots.map { $0! }
    }
}
