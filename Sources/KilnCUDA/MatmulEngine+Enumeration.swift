import Foundation
import KilnCore

/// A diagnostic of autotuning (`KILN_MATMUL_ENUMERATE=1`): besides the heuristic's candidates,
/// every configuration cuBLASLt accepts for the shape (algorithm ids x tiles x stages x split-K,
/// from cublasLtMatmulAlgoGetIds / AlgoInit / the capability lists, kept where AlgoCheck passes),
/// with the kernels each one launches (recorded into a graph that never runs) and, for those
/// whose kernels all wait for their prerequisites (`griddepcontrol.wait`: cuBLASLt 13.1's
/// `sm90_xmma_gemm_*bf16*` and `splitKreduce_kernel`, found by scanning the library in session
/// 14), the time. It prints the fastest such configuration beside the heuristic's fastest and
/// changes no choice. Why: programmatic edges into those kernels could save the ~3% of a static
/// batch-64 step that the plain hand-offs into cuBLASLt cost, but only if one of them is about as
/// fast as the nvjet kernels (which do not wait) the heuristic offers.
/// Limits (a review after session 14's run): split-K configurations keep the default reduction
/// scheme (the sample LtMatmulCustomFind also walks CAP_REDUCTION_SCHEME_MASK), cluster shape,
/// custom option and CTA swizzling stay at their defaults, a failed ConfigSetAttribute may count a
/// configuration twice, and a kernel node the driver will not name counts as not waiting; so
/// "none waits" holds for that subset only.
extension MatmulEngine {
    static let enumeratesConfigurations = ProcessInfo.processInfo.environment["KILN_MATMUL_ENUMERATE"] == "1"

    /// Whether a library kernel waits for its prerequisites itself (see above).
    static func libraryKernelWaits(_ name: String) -> Bool {
        (name.hasPrefix("sm90_xmma_gemm_") && name.contains("bf16")) || name.contains("splitKreduce_kernel")
    }

    /// Prints the comparison for `plan` (see the extension's comment); `run` launches one
    /// algorithm on the timing operands, `time` times a body. Errors end the diagnostic quietly.
    func reportWaitingConfigurations(_ plan: MatmulPlan, heuristicFastest: (microseconds: Double, names: [String]), stream: CUDAStream,
                                     run: @escaping ([UInt64]) throws -> Void, time: @escaping (() throws -> Void) throws -> Double) {
        guard let enumeration = try? EnumerationFunctions(blas.library), let inspection = stream.device.driver.graphInspection else {
            FileHandle.standardError.write(Data("enumerate \(plan.label): this cuBLASLt or driver lacks the calls\n".utf8))
            return
        }
        let input = MatmulPrecision.dataType(plan.precision.input), output = MatmulPrecision.dataType(plan.precision.output)
        var ids = [Int32](repeating: 0, count: 256)
        var idCount: Int32 = 0
        guard enumeration.cublasLtMatmulAlgoGetIds(blas.handle, CuBLASLtConstant.compute32F, CuBLASLtConstant.dataTypeR32F, input, input,
                                                   output, output, Int32(ids.count), &ids, &idCount) == CuBLASLtConstant.statusSuccess else { return }
        var valid: [[UInt64]] = []
        let result = UnsafeMutableRawPointer.allocate(byteCount: CuBLASLtConstant.heuristicResultBytes, alignment: 16)
        defer { result.deallocate() }
        for id in ids.prefix(Int(idCount)) {
            var algorithm = [UInt64](repeating: 0, count: 8)
            guard enumeration.cublasLtMatmulAlgoInit(blas.handle, CuBLASLtConstant.compute32F, CuBLASLtConstant.dataTypeR32F, input, input,
                                                     output, output, id, &algorithm) == CuBLASLtConstant.statusSuccess else { continue }
            let tiles = capabilityList(enumeration, algorithm, attribute: 6)   // CUBLASLT_ALGO_CAP_TILE_IDS
            let stages = capabilityList(enumeration, algorithm, attribute: 13) // CUBLASLT_ALGO_CAP_STAGES_IDS
            let splitSupport = capabilityList(enumeration, algorithm, attribute: 0).first ?? 0  // SPLITK_SUPPORT
            for tile in tiles.isEmpty ? [0] : tiles {
                for stage in stages.isEmpty ? [0] : stages {
                    for split: UInt32 in splitSupport != 0 ? [1, 2, 4, 8] : [1] {
                        var configured = algorithm
                        for (attribute, value) in [(Int32(1), UInt32(tile)), (6, UInt32(stage)), (2, split)] {  // TILE_ID, STAGES_ID, SPLITK_NUM
                            var value = value
                            _ = enumeration.cublasLtMatmulAlgoConfigSetAttribute(&configured, attribute, &value, 4)
                        }
                        result.initializeMemory(as: UInt8.self, repeating: 0, count: CuBLASLtConstant.heuristicResultBytes)
                        let status = configured.withUnsafeBytes {
                            blas.functions.cublasLtMatmulAlgoCheck(blas.handle, plan.descriptor, plan.a, plan.b, plan.d, plan.d,
                                                                   $0.baseAddress, result)
                        }
                        guard status == CuBLASLtConstant.statusSuccess,
                              result.load(fromByteOffset: CuBLASLtConstant.heuristicWorkspaceOffset, as: Int.self) <= workspace.byteCount
                        else { continue }
                        valid.append(configured)
                    }
                }
            }
        }
        var waiting = 0
        var fastest: (microseconds: Double, names: [String], algorithm: [UInt64])?
        for algorithm in valid.prefix(600) {
            guard let names = try? inspection.kernelNames(on: stream, { try run(algorithm) }), !names.isEmpty else { continue }
            guard names.allSatisfy(Self.libraryKernelWaits) else { continue }
            waiting += 1
            guard (try? run(algorithm)) != nil, let microseconds = try? time({ try run(algorithm) }) else { continue }  // after a warm-up
            if microseconds < fastest?.microseconds ?? .infinity { fastest = (microseconds, names, algorithm) }
        }
        let described = fastest.map { best in
            String(format: "%.1f us (id %d tile %d stages %d split-K %d) %@", best.microseconds, configuration(best.algorithm, CuBLASLtConstant.configID),
                   configuration(best.algorithm, CuBLASLtConstant.configTile), configuration(best.algorithm, CuBLASLtConstant.configStages),
                   configuration(best.algorithm, CuBLASLtConstant.configSplitK), best.names.map { String($0.prefix(70)) }.joined(separator: " + "))
        } ?? "none"
        FileHandle.standardError.write(Data(String(format: "enumerate %@: %d ids, %d valid configurations, %d with waiting kernels; fastest waiting %@; heuristic fastest %.1f us %@\n",
                                                   plan.label, Int(idCount), valid.count, waiting, described, heuristicFastest.microseconds,
                                                   heuristicFastest.names.joined(separator: " + ")).utf8))
    }

    /// A capability list of 4-byte values (tile or stage ids; one value for split-K support).
    private func capabilityList(_ enumeration: EnumerationFunctions, _ algorithm: [UInt64], attribute: Int32) -> [UInt32] {
        var bytes = 0
        _ = algorithm.withUnsafeBytes { enumeration.cublasLtMatmulAlgoCapGetAttribute($0.baseAddress, attribute, nil, 0, &bytes) }
        guard bytes >= 4 else { return [] }
        var values = [UInt32](repeating: 0, count: bytes / 4)
        var written = 0
        let status = algorithm.withUnsafeBytes { raw in
            values.withUnsafeMutableBytes { enumeration.cublasLtMatmulAlgoCapGetAttribute(raw.baseAddress, attribute, $0.baseAddress, bytes, &written) }
        }
        return status == CuBLASLtConstant.statusSuccess ? Array(values.prefix(written / 4)) : []
    }

    /// cuBLASLt's enumeration calls, resolved only for this diagnostic.
    struct EnumerationFunctions {
        /// (handle, compute type, scale type, A, B, C, D types, requested count, ids, returned count)
        let cublasLtMatmulAlgoGetIds: @convention(c) (CUhandle?, Int32, Int32, Int32, Int32, Int32, Int32, Int32,
                                                      UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> CublasStatus
        /// (handle, compute type, scale type, A, B, C, D types, id, algorithm out (64 bytes))
        let cublasLtMatmulAlgoInit: @convention(c) (CUhandle?, Int32, Int32, Int32, Int32, Int32, Int32, Int32,
                                                    UnsafeMutablePointer<UInt64>) -> CublasStatus
        /// (algorithm, attribute, value, value bytes, bytes written)
        let cublasLtMatmulAlgoCapGetAttribute: @convention(c) (UnsafeRawPointer?, Int32, UnsafeMutableRawPointer?, Int,
                                                               UnsafeMutablePointer<Int>?) -> CublasStatus
        /// (algorithm, attribute, value, value bytes)
        let cublasLtMatmulAlgoConfigSetAttribute: @convention(c) (UnsafeMutablePointer<UInt64>, Int32, UnsafeRawPointer?, Int) -> CublasStatus

        init(_ library: DynamicLibrary) throws {
            cublasLtMatmulAlgoGetIds = try library.function("cublasLtMatmulAlgoGetIds")
            cublasLtMatmulAlgoInit = try library.function("cublasLtMatmulAlgoInit")
            cublasLtMatmulAlgoCapGetAttribute = try library.function("cublasLtMatmulAlgoCapGetAttribute")
            cublasLtMatmulAlgoConfigSetAttribute = try library.function("cublasLtMatmulAlgoConfigSetAttribute")
        }
    }
}
