// swift-tools-version: 6.1
import PackageDescription

/// Swift 6 language mode everywhere, with existentials spelled out (`any Backend`).
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Kiln",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "kiln", targets: ["kiln"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Value types shared by every layer: dtypes, errors, the architecture-neutral model config.
        .target(name: "KilnCore", swiftSettings: strictSettings),
        // Checkpoint readers: safetensors (mmap), GGUF (+ dequantisation), HF config.json.
        .target(name: "KilnFormats", dependencies: ["KilnCore"], swiftSettings: strictSettings),
        // A Jinja subset that runs real chat templates unchanged.
        .target(name: "KilnChatTemplate", dependencies: ["KilnCore"], swiftSettings: strictSettings),
        // BPE tokenizers (byte-level and SentencePiece-style), from tokenizer.json or GGUF metadata.
        .target(name: "KilnTokenizer", dependencies: ["KilnCore", "KilnFormats"], swiftSettings: strictSettings),
        // The `Backend` protocol (the ops a model needs) and `ForwardBatch` (one step's tokens,
        // positions, KV slots and block tables). Knows weights' storage types, not devices.
        .target(name: "KilnBackend", dependencies: ["KilnCore", "KilnFormats"], swiftSettings: strictSettings),
        // The CPU reference backend: fp32 maths that reads like the equations, multithreaded.
        .target(name: "KilnCPU", dependencies: ["KilnBackend", "KilnFormats"], swiftSettings: strictSettings,
                linkerSettings: [.linkedLibrary("m")]),
        // The CUDA backend's foundation: driver API and NVRTC opened with dlopen (no CUDA needed to
        // build), device allocator, streams, kernels as .cu files embedded in the binary and
        // compiled by NVRTC at first use, cached on disk.
        .target(
            name: "KilnCUDA", dependencies: ["KilnBackend", "KilnCore"],
            exclude: ["Kernels/README-attention.md", "Kernels/README-gemv.md", "Kernels/README-skinny-gemm.md"],
            resources: [
                .embedInCode("Kernels/kiln_common.cuh"),
                .embedInCode("Kernels/embedding.cu"),
                .embedInCode("Kernels/rms_norm.cu"),
                .embedInCode("Kernels/rope.cu"),
                .embedInCode("Kernels/elementwise.cu"),
                .embedInCode("Kernels/argmax.cu"),
                .embedInCode("Kernels/backend_misc.cu"),
                .embedInCode("Kernels/kv_cache_write.cu"),
                .embedInCode("Kernels/attention_prefill.cu"),
                .embedInCode("Kernels/attention_decode.cuh"),
                .embedInCode("Kernels/attention_decode.cu"),
                .embedInCode("Kernels/attention_decode_input.cu"),
                .embedInCode("Kernels/attention_decode_reduce.cu"),
                .embedInCode("Kernels/attention_decode_mma.cu"),
                .embedInCode("Kernels/gemv.cu"),
                .embedInCode("Kernels/gemv_stream.cu"),
                .embedInCode("Kernels/skinny_common.cuh"),
                .embedInCode("Kernels/skinny_gemm.cu"),
                .embedInCode("Kernels/skinny_gemm_swap.cu"),
                .embedInCode("Kernels/attention_input.cu"),
                .embedInCode("Kernels/sampling.cu"),
                .embedInCode("Kernels/membench.cu"),
            ],
            swiftSettings: strictSettings),
        // Model families (Llama/Qwen2, Gemma 1/2/3) written once against `Backend`.
        .target(name: "KilnModels", dependencies: ["KilnBackend", "KilnFormats"], swiftSettings: strictSettings),
        // `kiln build`: checkpoint -> engine directory (fused layouts, dtype conversion, memory plan).
        .target(name: "KilnBuild", dependencies: ["KilnModels", "KilnFormats"], swiftSettings: strictSettings),
        // Sampling, stop rules and the generation loop.
        .target(name: "KilnEngine", dependencies: ["KilnCore", "KilnModels", "KilnTokenizer"], swiftSettings: strictSettings),
        // The command-line interface; the only place that wires the layers together.
        .executableTarget(
            name: "kiln",
            dependencies: [
                "KilnCore", "KilnFormats", "KilnTokenizer", "KilnChatTemplate",
                "KilnBackend", "KilnCPU", "KilnCUDA", "KilnModels", "KilnEngine", "KilnBuild",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "KilnEngineTests", dependencies: ["KilnEngine"], swiftSettings: strictSettings),
        .testTarget(name: "KilnModelsTests", dependencies: ["KilnModels", "KilnCPU", "KilnEngine", "KilnBuild"], resources: [.copy("Fixtures")], swiftSettings: strictSettings),
        .testTarget(name: "KilnCUDATests", dependencies: ["KilnCUDA", "KilnCore"], swiftSettings: strictSettings),
        .testTarget(name: "KilnCoreTests", dependencies: ["KilnCore"], swiftSettings: strictSettings),
        .testTarget(name: "KilnFormatsTests", dependencies: ["KilnFormats"], resources: [.copy("Fixtures")], swiftSettings: strictSettings),
        .testTarget(name: "KilnTokenizerTests", dependencies: ["KilnTokenizer", "KilnFormats"], exclude: ["Fixtures"], swiftSettings: strictSettings),
        // Runs the built `kiln` binary as a user would (inspect, tokenize, error exits).
        .testTarget(name: "KilnCLITests", dependencies: ["kiln"], swiftSettings: strictSettings),
        .testTarget(name: "KilnChatTemplateTests", dependencies: ["KilnChatTemplate"], resources: [.copy("Templates")], swiftSettings: strictSettings),
    ],
    swiftLanguageModes: [.v6]
)
