import ArgumentParser
import Foundation
import KilnBackend
import KilnCore
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

    struct Work: BackendWork {
        let command: LatencyBench
        func run<B: Backend>(on device: B) throws {
            let model = try DecoderModel(provider: try command.source.provider(), backend: device)
            let generator = TextGenerator(model: model, tokenizer: nil, prefillChunk: command.prefillChunk ?? command.input)
            let prompt = BenchModelOptions.prompt(command.input, vocabulary: model.config.vocabularySize, seed: 7)
            let parameters = SamplingParameters(temperature: 0, maxTokens: command.output, ignoreEOS: true)
            _ = try generator.generate(promptIDs: prompt, parameters: parameters) // warm-up: kernels, autotuning
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

/// `kiln bench static`: a fixed batch decoded together, output tokens/s.
struct StaticBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "static", abstract: "Fixed-batch greedy generation, output tokens/s.")

    @OptionGroup var source: BenchModelOptions
    @OptionGroup var device: BackendOptions
    @Option(help: "Sequences decoded together.") var batch = 8
    @Option(help: "Prompt tokens per sequence.") var input = 128
    @Option(help: "Generated tokens per sequence.") var output = 128

    struct Work: BackendWork {
        let command: StaticBench
        func run<B: Backend>(on device: B) throws {
            let model = try DecoderModel(provider: try command.source.provider(), backend: device)
            let prompts = (0..<command.batch).map {
                BenchModelOptions.prompt(command.input, vocabulary: model.config.vocabularySize, seed: UInt64(100 + $0))
            }
            let runner = StaticBatchRunner(model: model)
            _ = try runner.run(prompts: Array(prompts.prefix(1)), outputTokens: 2) // warm-up
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
