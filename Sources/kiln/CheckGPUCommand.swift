import ArgumentParser
import Foundation
import KilnCore
import KilnCUDA

/// `kiln check ...`: correctness checks that need hardware or toolchains the unit tests lack.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Check the GPU kernels against the CPU reference, or that they compile.",
        subcommands: [CheckGPUCommand.self, CheckKernelsCommand.self])
}

/// `kiln check gpu [--quick]`: every CUDA kernel against its CPU twin on fresh random inputs of
/// many shapes; one line per check, `N passed, M failed` last; exit code 1 if any failed or
/// there is no usable GPU.
struct CheckGPUCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpu", abstract: "Compare every CUDA kernel with the CPU backend on random inputs.")

    @Flag(help: "Fewer shapes.")
    var quick = false

    @Option(help: "Seed of the random inputs (default: a fresh one, printed).")
    var seed: UInt64?

    @Option(help: "GPU ordinal.")
    var device = 0

    @Option(parsing: .upToNextOption, help: "Also check these models (GGUF files, HF or engine directories) end to end against the CPU.")
    var models: [String] = []

    @Option(help: "Greedy tokens compared per model.")
    var greedyTokens = 32

    @Option(help: "Only the checks whose label contains this text (e.g. \"mma\", \"argmax\"): kernel checks by kernel name, decode-path checks by label; the matrix-product and sampling suites are skipped. The random inputs then differ from a full run's with the same --seed.")
    var only: String?

    func run() throws {
        var failures = 0
        try reportingErrors {
            let start = Date()
            let runtime: CUDARuntime
            do {
                runtime = try CUDARuntime(ordinal: device)
            } catch let error as KilnError {
                printError("kiln check gpu: no usable GPU, nothing was checked")
                throw error
            }
            let opened = Date()
            let gpu = runtime.device
            let memory = try gpu.memoryInfo()
            print("device: \(gpu.label) \(gpu.name), compute capability \(gpu.computeCapability.major).\(gpu.computeCapability.minor) "
                  + "(\(gpu.architecture)), \(gpu.multiprocessors) SMs, \(DeviceAllocator.bytesText(memory.total)) "
                  + "(\(DeviceAllocator.bytesText(memory.free)) free)")
            print("driver: CUDA \(CUDADriver.versionText(runtime.driver.version)) (\(runtime.driver.library.path)); "
                  + "NVRTC \(runtime.kernels.compiler.versionText) (\(runtime.kernels.compiler.library.path))")
            let (files, cached) = try runtime.kernels.loadAll()
            let loaded = Date()
            let cache = runtime.kernels.cache
            print("kernels: \(files) files for \(gpu.architecture), \(files - cached) compiled by NVRTC "
                  + String(format: "(%.3f s)", cache.statistics.compileSeconds) + ", \(cached) from the cache \(cache.directory ?? "(none)")")
            print(String(format: "start-up: %.3f s to open the driver, GPU and NVRTC; %.3f s to get the kernels ready",
                         opened.timeIntervalSince(start), loaded.timeIntervalSince(opened)))

            let seed = seed ?? UInt64.random(in: 1...UInt64.max)
            print("inputs: random, seed \(seed) (rerun with --seed \(seed)); outputs poisoned with NaN before each launch")
            let checks = try GPUParityChecks(runtime: runtime, seed: seed, quick: quick, only: only)
            try checks.runAll()
            let backendChecks = GPUBackendChecks(runtime: runtime, seed: seed &+ 1, quick: quick, only: only)
            try backendChecks.runAll()
            var modelChecks = GPUModelChecks(runtime: runtime, seed: seed)
            for model in models {
                do {
                    try modelChecks.check(model, promptLength: 40, greedyTokens: greedyTokens)
                } catch let error as KilnError {
                    modelChecks.recordFailure("model \((model as NSString).lastPathComponent): \(error.description)")
                }
            }
            let stats = runtime.allocator.statistics
            print("allocator: \(stats.requests) requests, \(stats.poolHits) from the pool, \(stats.deviceAllocations) cuMemAlloc, "
                  + "peak \(DeviceAllocator.bytesText(stats.peakBytesReserved)) held")
            print(String(format: "total: %.2f s", Date().timeIntervalSince(start)))
            let passed = checks.passed + backendChecks.passed + modelChecks.passed
            failures = checks.failed + backendChecks.failed + modelChecks.failed
            print("\(passed) passed, \(failures) failed")
        }
        if failures > 0 { throw ExitCode(1) }
    }
}
