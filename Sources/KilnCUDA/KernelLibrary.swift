import Foundation

/// One CUDA C++ file of `Kernels/` and the `extern "C"` kernels it defines.
public struct KernelSource: Sendable {
    /// File name ("rms_norm.cu"), used in messages and as NVRTC's program name.
    public let fileName: String
    /// The CUDA C++ text.
    public let text: String
    /// Names of the kernels it exports.
    public let kernels: [String]
}

/// The element type a kernel stores activations (or tables) in; arithmetic is always fp32.
public enum DeviceElementType: String, Sendable, CaseIterable {
    case f32, bf16

    /// Bytes per element.
    public var byteSize: Int { self == .f32 ? 4 : 2 }
    /// Kernel-name suffix.
    public var suffix: String { rawValue }
}

/// Every kernel Kiln ships: the `.cu` files embedded in the binary (SwiftPM `.embedInCode`), the
/// shared header they include, and the NVRTC options they are compiled with.
public enum KernelLibrary {
    /// Headers given to NVRTC by include name.
    public static let headers: [(name: String, text: String)] = [
        ("kiln_common.cuh", text(PackageResources.kiln_common_cuh)),
        ("attention_decode.cuh", text(PackageResources.attention_decode_cuh)),
        ("skinny_common.cuh", text(PackageResources.skinny_common_cuh)),
    ]

    /// The kernel files.
    public static let sources: [KernelSource] = {
        let types = DeviceElementType.allCases.map(\.suffix)
        func each(_ stems: [String]) -> [String] { stems.flatMap { stem in types.map { "\(stem)_\($0)" } } }
        return [
            KernelSource(fileName: "embedding.cu", text: text(PackageResources.embedding_cu),
                         kernels: types.flatMap { table in types.map { "embed_\(table)_\($0)" } }),
            KernelSource(fileName: "rms_norm.cu", text: text(PackageResources.rms_norm_cu),
                         kernels: each(["rms_norm", "add_rms_norm", "head_rms_norm"]) + ["rms_norm_bf16_vec8", "add_rms_norm_bf16_vec8"]),
            KernelSource(fileName: "rope.cu", text: text(PackageResources.rope_cu),
                         kernels: each(["rope_halves", "rope_interleaved"])),
            KernelSource(fileName: "elementwise.cu", text: text(PackageResources.elementwise_cu),
                         kernels: each(["gated_silu", "gated_gelu_tanh", "softcap", "add"])),
            KernelSource(fileName: "argmax.cu", text: text(PackageResources.argmax_cu),
                         kernels: each(["argmax", "argmax_partial"]) + ["argmax_partial_bf16_vec8", "argmax_merge_parts"]),
            KernelSource(fileName: "backend_misc.cu", text: text(PackageResources.backend_misc_cu),
                         kernels: ["linear_reference_f32", "linear_reference_bf16", "gather_rows_f32", "gather_rows_bf16", "attention_reference_f32", "attention_reference_bf16"]),
            KernelSource(fileName: "kv_cache_write.cu", text: text(PackageResources.kv_cache_write_cu),
                         kernels: each(["kv_cache_write"])),
            KernelSource(fileName: "attention_prefill.cu", text: text(PackageResources.attention_prefill_cu),
                         kernels: types.flatMap { type in [64, 128, 256].map { "attention_prefill_\(type)_h\($0)" } }),
            // Four files (attention_decode.cuh): a bf16 decode step compiles only the fused-input
            // kernels (CUDA cores or tensor cores) and the reduce.
            KernelSource(fileName: "attention_decode.cu", text: text(PackageResources.attention_decode_cu),
                         kernels: types.flatMap { type in
                             [64, 128, 256].flatMap { head in [1, 2, 4, 8].map { "attention_decode_\(type)_h\(head)_g\($0)" } }
                         }),
            KernelSource(fileName: "attention_decode_input.cu", text: text(PackageResources.attention_decode_input_cu),
                         kernels: [64, 128, 256].flatMap { head in [1, 2, 4, 8].map { "attention_decode_input_bf16_h\(head)_g\($0)" } }),
            KernelSource(fileName: "attention_decode_reduce.cu", text: text(PackageResources.attention_decode_reduce_cu),
                         kernels: types.map { "attention_decode_reduce_\($0)" }),
            KernelSource(fileName: "attention_decode_mma.cu", text: text(PackageResources.attention_decode_mma_cu),
                         kernels: [64, 128, 256].map { "attention_decode_mma_bf16_h\($0)" }),
            KernelSource(fileName: "gemv.cu", text: text(PackageResources.gemv_cu),
                         kernels: ["gemv_bf16", "gemv_bf16_f32", "gemv_gateup_silu_bf16", "gemv_gateup_gelu_bf16"].flatMap { [$0, $0 + "_c1"] }),
            KernelSource(fileName: "gemv_stream.cu", text: text(PackageResources.gemv_stream_cu),
                         kernels: ["gemv_bf16", "gemv_bf16_f32", "gemv_gateup_silu_bf16", "gemv_gateup_gelu_bf16"]
                            .flatMap { name in [2, 4, 8].map { name + "_rs\($0)" } }),
            KernelSource(fileName: "skinny_gemm.cu", text: text(PackageResources.skinny_gemm_cu),
                         kernels: ["skinny_gemm_bf16", "skinny_gemm_bf16_f32", "skinny_gemm_gateup_silu_bf16", "skinny_gemm_gateup_gelu_bf16"]
                            .flatMap { name in SkinnyGEMMChoice.shapes.flatMap { [name + $0.suffix, name + $0.suffix + "_tma"] } }),
            // The swapped operands (batch rows as wgmma's A): sm_90a only, they trap elsewhere.
            KernelSource(fileName: "skinny_gemm_swap.cu", text: text(PackageResources.skinny_gemm_swap_cu),
                         kernels: SkinnyGEMMChoice.swappedKernelNames),
            KernelSource(fileName: "attention_input.cu", text: text(PackageResources.attention_input_cu),
                         kernels: each(["attention_input_halves", "attention_input_interleaved"])),
            KernelSource(fileName: "sampling.cu", text: text(PackageResources.sampling_cu),
                         kernels: each(["sample"])),
            // `kiln bench memory` only (MemoryBench.swift): the read-rate ceiling.
            KernelSource(fileName: "membench.cu", text: text(PackageResources.membench_cu),
                         kernels: MemoryBench.kernelNames),
        ]
    }()

    /// Kernels that run `kiln_wait_prerequisites()` (or, for the GEMVs, its wait) before reading
    /// anything a kernel of the step writes, loading before it only what no kernel writes
    /// (weights, norm weights, the step's batch arrays, K/V of earlier steps): the only ones
    /// CUDAStream may launch with programmatic stream serialization.
    public static func waitsForPrerequisites(_ kernel: String) -> Bool {
        ["embed_", "rms_norm_", "add_rms_norm_", "attention_input_", "attention_decode_", "argmax_partial_", "argmax_merge_parts",
         "gated_", "gather_rows_", "gemv_", "skinny_gemm_"].contains { kernel.hasPrefix($0) }
    }

    /// The file that defines `kernel`.
    public static func source(defining kernel: String) -> KernelSource? {
        sources.first { $0.kernels.contains(kernel) }
    }

    /// NVRTC options for `architecture` ("sm_90a"): a CUBIN for exactly that GPU, C++17, and
    /// IEEE-accurate maths (no --use_fast_math: the CPU twins are the reference).
    public static func options(architecture: String) -> [String] {
        options(architecture: architecture, defines: experimentDefines)
    }

    /// The options with `defines` as -D macros after the fixed ones.
    static func options(architecture: String, defines: [String]) -> [String] {
        ["--gpu-architecture=\(architecture)", "-std=c++17", "-default-device"] + defines.map { "-D\($0)" }
    }

    /// Macros from `KILN_KERNEL_DEFINES` (comma-separated names, e.g. `KILN_GEMV_NO_PRELOAD`) that
    /// switch a kernel back to an earlier variant, so that one binary can time both in one device
    /// call. Part of the options, hence of the kernel cache key. Read once.
    /// (With `KILN_TRACE` set, also KILN_TRACE: KernelTracer.swift.)
    static let experimentDefines = defines(from: ProcessInfo.processInfo.environment["KILN_KERNEL_DEFINES"])
        + (KernelTracer.outputPath != nil ? ["KILN_TRACE"] : [])

    /// The macro names of a `KILN_KERNEL_DEFINES` value: comma-separated, blanks trimmed; a name
    /// that is not a C identifier (letters, digits, `_`; not starting with a digit) is dropped, so
    /// that the value cannot inject other compiler options.
    static func defines(from value: String?) -> [String] {
        (value ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { name in
                guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
                return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
            }
    }

    private static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
}
