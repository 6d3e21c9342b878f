import ArgumentParser
import Foundation
import KilnChatTemplate
import KilnCore
import KilnBackend
import KilnCPU
import KilnCUDA
import KilnEngine
import KilnFormats
import KilnModels
import KilnTokenizer

/// `kiln generate [MODEL] "prompt"`: streams generated text to the terminal, tokens/s at the end.
/// `--temperature 0 --max-tokens N --json` prints one JSON object with `prompt_ids` and
/// `output_ids` (the form used to check Kiln from outside).
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Generate text from a prompt with a checkpoint (or random weights).")

    @Argument(help: "A .gguf file or Hugging Face directory, then the prompt. With one argument it is the prompt and the model is $KILN_MODELS/smollm2-135m-instruct-q4_1.gguf.")
    var arguments: [String] = []

    @Flag(help: "Wrap the prompt in the model's chat template as a user turn.")
    var chat = false

    @Option(help: "System message for --chat.")
    var system: String?

    @OptionGroup var device: BackendOptions

    @Option(help: "Use deterministic random weights of a published shape instead of a checkpoint: \(RandomWeightPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var randomWeights: String?

    @Option(help: "With --random-weights, or an engine built without a tokenizer: prompt length in tokens (ids drawn at random).")
    var promptLength: Int = 16

    @Flag(help: "Print one JSON object (prompt_ids, output_ids, text, timings) instead of streaming.")
    var json = false

    @OptionGroup var sampling: SamplingOptions

    func run() throws {
        try reportingErrors {
            let parameters = try sampling.parameters()
            // The model path only feeds autotune restoring; a bad one is reported by the work itself.
            // (A tokenizer-less engine given alone is the model, not the prompt.)
            let model = randomWeights != nil ? nil
                : arguments.count == 1 && EngineManifest.readIfEngine(at: arguments[0]) != nil ? arguments[0] : try? modelAndPrompt().0
            try device.dispatch(Work(command: self, parameters: parameters, loadStart: Date()), model: model)
        }
    }

    /// The command's body, generic over the backend the flags chose.
    struct Work: BackendWork {
        let command: GenerateCommand
        let parameters: SamplingParameters
        let loadStart: Date

        func run<B: Backend>(on device: B) throws {
            try command.generate(on: device, parameters: parameters, loadStart: loadStart)
        }
    }

    func generate<B: Backend>(on device: B, parameters: SamplingParameters, loadStart: Date) throws {
        if let randomWeights {
            let preset = try RandomWeightPreset.named(randomWeights)
            guard arguments.isEmpty else {
                throw KilnError.invalidArgument("--random-weights takes no model or prompt; use --prompt-length")
            }
            try runOnRandomPrompt({ try DecoderModel(provider: RandomWeights(config: preset.config), backend: device) },
                                  parameters: parameters, loadStart: loadStart)
            return
        }
        if arguments.count == 1, EngineManifest.readIfEngine(at: arguments[0])?.tokenizerFile.isEmpty == true {
            // An engine without a tokenizer (kiln build --random-weights): the prompt is random ids.
            try runOnRandomPrompt({ try DecoderModel(provider: try CheckpointWeights(checkpoint: try Checkpoint.open(arguments[0])), backend: device) },
                                  parameters: parameters, loadStart: loadStart)
            return
        }
        let (modelPath, prompt) = try modelAndPrompt()
        let checkpoint = try Checkpoint.open(modelPath)
        // The config first: an unsupported model type is reported before anything else.
        let weights = try CheckpointWeights(checkpoint: checkpoint)
        _ = try ModelArchitecture.forConfig(weights.config)
        let tokenizer = try checkpoint.loadTokenizer()
        var text = prompt
        if chat {
            let template = try ChatTemplate(source: try ChatTemplateSource.load(checkpoint))
            var messages: [ChatMessage] = []
            if let system { messages.append(ChatMessage(role: "system", content: system)) }
            messages.append(ChatMessage(role: "user", content: prompt))
            text = try template.render(messages: messages, addGenerationPrompt: true,
                                       bosToken: tokenizer.specialTokens.bos.flatMap(tokenizer.tokenString),
                                       eosToken: tokenizer.specialTokens.eos.flatMap(tokenizer.tokenString))
        } else if system != nil {
            throw KilnError.invalidArgument("--system needs --chat")
        }
        // Chat templates write BOS themselves (as transformers' apply_chat_template assumes).
        let ids = tokenizer.encode(text, addSpecialTokens: !chat, parseSpecial: true)
        let model = try DecoderModel(provider: weights, backend: device)
        try run(TextGenerator(model: model, tokenizer: tokenizer), prompt: ids, parameters: parameters,
                loadSeconds: Date().timeIntervalSince(loadStart), tokenizer: tokenizer, backendName: device.name)
    }

    /// Generates from `--prompt-length` random ids (seed 1) on a model without a tokenizer
    /// (checked before the model is loaded).
    func runOnRandomPrompt<B: Backend>(_ load: () throws -> DecoderModel<B>, parameters: SamplingParameters, loadStart: Date) throws {
        guard promptLength >= 1 else { throw KilnError.invalidArgument("--prompt-length must be >= 1") }
        let model = try load()
        let prompt = BenchModelOptions.prompt(promptLength, vocabulary: model.config.vocabularySize, seed: 1)
        try run(TextGenerator(model: model, tokenizer: nil), prompt: prompt, parameters: parameters,
                loadSeconds: Date().timeIntervalSince(loadStart), tokenizer: nil, backendName: model.backend.name)
    }

    /// MODEL and PROMPT from the positional arguments (MODEL defaults to the small real model).
    func modelAndPrompt() throws -> (String, String) {
        switch arguments.count {
        case 2: return (arguments[0], arguments[1])
        case 1:
            let directory = ProcessInfo.processInfo.environment["KILN_MODELS"] ?? "models"
            let path = directory + "/smollm2-135m-instruct-q4_1.gguf"
            guard FileManager.default.fileExists(atPath: path) else {
                throw KilnError.missingFile(path: path, reason: "default model not found: run scripts/fetch-models.sh smollm2, or pass a model")
            }
            return (path, arguments[0])
        default:
            throw KilnError.invalidArgument("usage: kiln generate [MODEL] \"PROMPT\" (got \(arguments.count) arguments)")
        }
    }

    func run<B: Backend>(_ generator: TextGenerator<B>, prompt: [Int], parameters: SamplingParameters, loadSeconds: Double,
             tokenizer: (any Tokenizer)?, backendName: String) throws {
        let output = FileHandle.standardOutput
        let result = try generator.generate(promptIDs: prompt, parameters: parameters) { token, text in
            if !json, !text.isEmpty { output.write(Data(text.utf8)) }
            if !json, tokenizer == nil { output.write(Data("\(token.id) ".utf8)) }
        }
        if json {
            print(try GenerateReport.json(result, loadSeconds: loadSeconds, backend: backendName))
        } else {
            output.write(Data("\n".utf8))
            printError(GenerateReport.summary(result, loadSeconds: loadSeconds, backend: backendName))
        }
    }
}
