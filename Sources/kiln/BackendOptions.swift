import ArgumentParser
import KilnBackend
import KilnCore
import KilnCPU
import KilnCUDA

/// Work that runs on whichever backend the flags pick (generic over the backend type).
protocol BackendWork {
    func run<B: Backend>(on device: B) throws
}

/// `--backend cpu|cuda|auto` and `--precision bf16|f32`, shared by the commands that run models.
struct BackendOptions: ParsableArguments {
    @Option(help: "Backend: cpu, cuda, or auto (CUDA when a GPU is found).")
    var backend: String = "auto"

    @Option(help: "CUDA precision of weights, activations and KV cache: bf16 (fast) or f32 (matches the CPU reference).")
    var precision: String = "bf16"

    /// Runs `work` on the chosen backend: CUDA for `cuda` (an error when no GPU can be used) and
    /// for `auto` when one can; the CPU otherwise. On CUDA, autotune choices of `model` (when it
    /// is an engine directory) and of the kernel cache are restored first, and what the run tuned
    /// is saved to the cache afterwards, also when the work throws (what was tuned stays valid).
    func dispatch(_ work: some BackendWork, model: String? = nil) throws {
        guard ["cpu", "cuda", "auto"].contains(backend) else {
            throw KilnError.invalidArgument("--backend \(backend): choose cpu, cuda or auto")
        }
        guard let type = DeviceElementType(rawValue: precision) else {
            throw KilnError.invalidArgument("--precision \(precision): choose bf16 or f32")
        }
        var cuda: CUDABackend?
        if backend != "cpu" {
            do {
                cuda = try CUDABackend(runtime: try CUDARuntime(), precision: type)
            } catch let error as KilnError {
                if backend == "cuda" { throw error } // auto: no usable GPU, the CPU runs
            }
        }
        if let cuda {
            let autotune = AutotunePersistence.start(cuda, model: model)
            defer { autotune?.save() }
            try work.run(on: cuda)
        } else {
            try work.run(on: CPUBackend())
        }
    }
}
