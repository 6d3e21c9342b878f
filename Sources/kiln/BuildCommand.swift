import ArgumentParser
import Foundation
import KilnBuild
import KilnCore
import KilnModels
import KilnCUDA
import KilnFormats

/// `kiln build MODEL -o ENGINE_DIR [--dtype bf16] [--no-autotune]`: checkpoint -> engine directory
/// (its matrix products autotuned when a GPU is usable), then the memory plan the way
/// TensorRT-LLM prints it.
struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build", abstract: "Build an engine directory from a checkpoint (fused weights, memory plan).")

    @Argument(help: "A .gguf file or a Hugging Face model directory (or use --random-weights).")
    var model: String?

    @Option(help: "Random weights of a published shape instead of a checkpoint (an engine without a tokenizer, for benchmarks): \(RandomWeightPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var randomWeights: String?

    @Option(name: .shortAndLong, help: "The engine directory to write.")
    var output: String

    @Option(help: "Weight dtype: bf16 or f32.")
    var dtype: String = "bf16"

    @Option(help: "Tokens per forward step to plan activations for.")
    var maxNumTokens = 8192

    @Option(help: "Concurrent sequences to plan the KV cache for.")
    var maxBatchSize = 64

    @Option(help: "Longest sequence to plan the KV cache for (default: the model's context).")
    var maxSeqLen = 0

    @Flag(help: "Replace an existing engine in the output directory.")
    var overwrite = false

    @Flag(inversion: .prefixedNo, help: "Time cuBLASLt's algorithms for the engine's matrix products on the GPU and record the choices in the engine (default: on when a GPU is usable; skipped without one).")
    var autotune: Bool?

    func run() throws {
        try reportingErrors {
            var options = EngineBuilder.Options()
            switch dtype.lowercased() {
            case "bf16": options.dtype = .bf16
            case "f32", "fp32", "float32": options.dtype = .f32
            default: throw KilnError.invalidArgument("--dtype \(dtype): choose bf16 or f32")
            }
            guard maxNumTokens >= 1, maxBatchSize >= 1, maxSeqLen >= 0 else {
                throw KilnError.invalidArgument("--max-num-tokens and --max-batch-size must be >= 1, --max-seq-len >= 0")
            }
            options.maxTokens = maxNumTokens
            options.maxBatch = maxBatchSize
            options.maxSequenceLength = maxSeqLen
            options.overwrite = overwrite
            let start = Date()
            // Opened before converting, so that an explicit --autotune without a GPU fails at once.
            let tuner = try openAutotuner()
            var manifest: EngineManifest
            switch (model, randomWeights) {
            case let (path?, nil):
                manifest = try EngineBuilder.build(checkpoint: try Checkpoint.open(path), output: output, options: options) { printError($0) }
            case let (nil, preset?):
                let config = try RandomWeightPreset.named(preset).config
                manifest = try EngineBuilder.build(provider: RandomWeights(config: config), output: output, options: options,
                                                   source: .init(path: "random:\(preset)", sha256: "", format: "random"),
                                                   log: { printError($0) }, tokenizer: { _ in "" })
            default:
                throw KilnError.invalidArgument("give exactly one of MODEL and --random-weights PRESET")
            }
            if let tuner {
                manifest.autotune = try tuner.tune(manifest, log: printError)
                try manifest.write(directory: output)
                // The kernel cache gets them too: runs of the source checkpoint use the same shapes.
                AutotuneStore(directory: tuner.runtime.kernels.cache.directory).save(manifest.autotune)
            }
            print(MemoryPlanReport.table(manifest, directory: output, seconds: Date().timeIntervalSince(start)))
        }
    }
}

extension BuildCommand {
    /// The GPU autotuner; nil with --no-autotune, or when no GPU or cuBLASLt is usable (said in
    /// one line, the build goes on as without a GPU). After an explicit --autotune that is an error.
    func openAutotuner() throws -> BuildAutotuner? {
        guard autotune != false else { return nil }
        do {
            return try BuildAutotuner()
        } catch {
            let reason = String(describing: error).split(separator: "\n").first.map(String.init) ?? "unknown error"
            if autotune == true { throw KilnError.invalidArgument("--autotune needs a usable GPU and cuBLASLt: \(reason)") }
            printError("autotune: skipped (no usable GPU and cuBLASLt: \(reason))")
            return nil
        }
    }
}

/// The memory plan as `kiln build` prints it.
enum MemoryPlanReport {
    static func table(_ manifest: EngineManifest, directory: String, seconds: Double) -> String {
        let plan = manifest.memoryPlan, config = manifest.config
        let perToken = config.layerCount * 2 * config.kvHeads * config.headDim * 2
        return """
        Engine       \(directory) (\(manifest.config.modelType), \(manifest.dtype), fused \(manifest.fusions.joined(separator: " + ")), built in \(String(format: "%.1f", seconds)) s)
        Source       \(manifest.source.path) (sha256 \(manifest.source.sha256.prefix(16))...)
        Memory plan (one GPU):
          weights      \(Units.bytes(plan.weightBytes).leftPadded(10))
          activations  \(Units.bytes(plan.activationBytes).leftPadded(10))   \(plan.maxTokens) tokens per step, one set of buffers reused by all \(config.layerCount) layers, + fp32 logits for \(plan.maxBatch) rows
          KV cache     \(Units.bytes(plan.kvCacheBytes).leftPadded(10))   \(plan.maxBatch) sequences x \(plan.maxSequenceLength) tokens, \(Units.bytes(perToken)) per token (bf16)
          total        \(Units.bytes(plan.totalBytes).leftPadded(10))
        """
    }
}

extension String {
    /// Right-aligns in `width` columns.
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
