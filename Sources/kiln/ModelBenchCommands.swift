import ArgumentParser
import Foundation
import KilnBackend
import KilnCore
import KilnCUDA
import KilnEngine
import KilnFormats
import KilnModels

/// The model to benchmark: a checkpoint or engine, or random weights of a published shape.
struct BenchModelOptions: ParsableArguments {
    @Argument(help: "A .gguf file, Hugging Face directory or engine directory (or use --random-weights).")
    var model: String?

    @Option(help: "Random weights of a published shape instead of a checkpoint: \(RandomWeightPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var randomWeights: String?

    /// The weights the flags name; exactly one of MODEL and --random-weights.
    func provider() throws -> any WeightProvider {
        switch (model, randomWeights) {
        case let (path?, nil): return try CheckpointWeights(checkpoint: try Checkpoint.open(path))
        case let (nil, preset?): return RandomWeights(config: try RandomWeightPreset.named(preset).config)
        default: throw KilnError.invalidArgument("give exactly one of MODEL and --random-weights PRESET")
        }
    }

    /// `count` prompt ids drawn from the vocabulary with a fixed seed (timing does not depend on them).
    static func prompt(_ count: Int, vocabulary: Int, seed: UInt64) -> [Int] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in Int(generator.next() % UInt64(vocabulary)) }
    }
}

/// `kiln bench latency`: batch 1, time to first token and decode tokens/s, median of runs.
struct LatencyBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "latency", abstract: "Batch-1 time to first token and decode tokens/s.")

    @OptionGroup var source: BenchModelOptions
    @OptionGroup var device: BackendOptions
    @Option(help: "Prompt tokens.") var input = 128
    @Option(help: "Generated tokens.") var output = 256
    @Option(help: "Timed runs (after one warm-up run).") var runs = 3
    @Option(help: "Most prompt tokens per prefill step (default: the whole prompt in one step).") var prefillChunk: Int?
    @Flag(help: "CUDA: time every kernel of one run (without CUDA graphs) and print where the time goes.") var profile = false

    struct Work: BackendWork {
        let command: LatencyBench
        func run<B: Backend>(on device: B) throws {
            let model = try DecoderModel(provider: try command.source.provider(), backend: device)
            let generator = TextGenerator(model: model, tokenizer: nil, prefillChunk: command.prefillChunk ?? command.input)
            let prompt = BenchModelOptions.prompt(command.input, vocabulary: model.config.vocabularySize, seed: 7)
            let parameters = SamplingParameters(temperature: 0, maxTokens: command.output, ignoreEOS: true)
            _ = try generator.generate(promptIDs: prompt, parameters: parameters) // warm-up: kernels, autotuning
            if command.profile {
                guard let cuda = device as? CUDABackend else { throw KilnError.invalidArgument("--profile needs --backend cuda") }
                try LatencyBench.profile(cuda, steps: command.output) { _ = try generator.generate(promptIDs: prompt, parameters: parameters) }
                return
            }
            var firstToken: [Double] = [], decode: [Double] = []
            for _ in 0..<command.runs {
                let result = try generator.generate(promptIDs: prompt, parameters: parameters)
                firstToken.append(result.prefillSeconds)
                decode.append(result.decodeTokensPerSecond)
            }
            print("backend      \(device.name)")
            print("model        \(command.source.model ?? command.source.randomWeights ?? "-") (\(model.config.modelType))")
            print("shape        batch 1, \(command.input) in, \(command.output) out, median of \(command.runs) runs after a warm-up")
            print(String(format: "first token  %.2f ms (prefill)", median(firstToken) * 1000))
            print(String(format: "decode       %.1f tokens/s", median(decode)))
        }
    }

    func run() throws {
        try reportingErrors {
            guard input >= 1, output >= 2, runs >= 1, (prefillChunk ?? 1) >= 1 else {
                throw KilnError.invalidArgument("--input >= 1, --output >= 2, --runs >= 1, --prefill-chunk >= 1")
            }
            try device.dispatch(Work(command: self), model: source.model)
        }
    }
}

extension LatencyBench {
    /// Runs `body` once with every launch timed (no CUDA graphs) and prints the kernels by total
    /// GPU time, with their time per decode step (`steps` tokens).
    static func profile(_ cuda: CUDABackend, steps: Int, _ body: () throws -> Void) throws {
        let graphs = cuda.usesGraphs
        let profiler = LaunchProfiler(device: cuda.runtime.device)
        cuda.usesGraphs = false
        cuda.stream.profiler = profiler
        defer {
            cuda.stream.profiler = nil
            cuda.usesGraphs = graphs
        }
        let start = Date()
        try body()
        let seconds = Date().timeIntervalSince(start)
        let entries = try profiler.entries()
        let total = entries.reduce(0) { $0 + $1.milliseconds }
        print(String(format: "profile: one run, %.1f ms wall, %.1f ms of kernels (%d launches); per decode step: %.3f ms of kernels",
                     seconds * 1000, total, entries.reduce(0) { $0 + $1.launches }, total / Double(steps)))
        print("  launches   total ms   µs/launch   µs/step   kernel")
        for entry in entries {
            print(String(format: "%10d %10.3f %11.2f %9.2f   %@", entry.launches, entry.milliseconds,
                         entry.milliseconds * 1000 / Double(entry.launches), entry.milliseconds * 1000 / Double(steps), entry.name))
        }
    }
}

/// `kiln bench static`: a fixed batch decoded together, output tokens/s.
struct StaticBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "static", abstract: "Fixed-batch greedy generation, output tokens/s.")

    @OptionGroup var source: BenchModelOptions
    @OptionGroup var device: BackendOptions
    @Option(help: "Sequences decoded together.") var batch = 8
    @Option(help: "Prompt tokens per sequence.") var input = 128
    @Option(help: "Generated tokens per sequence.") var output = 128
    @Flag(help: "CUDA: time every kernel of the measured run (without CUDA graphs) and print where the time goes.") var profile = false

    struct Work: BackendWork {
        let command: StaticBench
        func run<B: Backend>(on device: B) throws {
            let model = try DecoderModel(provider: try command.source.provider(), backend: device)
            let prompts = (0..<command.batch).map {
                BenchModelOptions.prompt(command.input, vocabulary: model.config.vocabularySize, seed: UInt64(100 + $0))
            }
            let runner = StaticBatchRunner(model: model)
            // Warm-up at the measured shapes (kernels, autotuning of every product shape, the decode
            // step's recording), so the timed run measures steady state.
            _ = try runner.run(prompts: prompts, outputTokens: min(command.output, 4))
            if command.profile {
                guard let cuda = device as? CUDABackend else { throw KilnError.invalidArgument("--profile needs --backend cuda") }
                try LatencyBench.profile(cuda, steps: command.output) { _ = try runner.run(prompts: prompts, outputTokens: command.output) }
                return
            }
            let result = try runner.run(prompts: prompts, outputTokens: command.output)
            print("backend      \(device.name)")
            print("shape        batch \(command.batch), \(command.input) in, \(command.output) out (greedy)")
            print(String(format: "prefill      %.3f s", result.prefillSeconds))
            print(String(format: "decode       %.3f s", result.decodeSeconds))
            print(String(format: "throughput   %.1f output tokens/s", result.outputTokensPerSecond))
        }
    }

    func run() throws {
        try reportingErrors {
            guard batch >= 1, input >= 1, output >= 1 else { throw KilnError.invalidArgument("--batch, --input and --output must be >= 1") }
            try device.dispatch(Work(command: self), model: source.model)
        }
    }
}

/// The middle value (mean of the two middle ones for an even count).
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
