import Foundation
import KilnCore
import KilnCUDA
import KilnFormats
import KilnModels

/// `kiln build`'s autotuning: times cuBLASLt's candidates for every matrix product the engine's
/// model runs (`DecoderProduct.all`) at one M per bucket up to the planned --max-num-tokens (the
/// LM head: --max-batch-size), so that a run of the engine restores every choice from its
/// manifest and times nothing before its first token.
struct BuildAutotuner {
    /// One product to tune.
    struct Problem: Equatable {
        var problem: LinearProblem
        var precision: MatmulPrecision
        var bias: Bool
    }

    let runtime: CUDARuntime
    let engine: MatmulEngine

    /// Opens GPU 0 and cuBLASLt; throws the `KilnError` that says what is missing.
    init() throws {
        runtime = try CUDARuntime()
        engine = try MatmulEngine(runtime: runtime)
    }

    /// What to tune for an engine, one problem per tuning key (K/V, gate/up and often Q/O share
    /// shapes). bf16 always (`--precision`'s default, whatever the engine's dtype); f32 too for an
    /// f32 engine, which is the one run with `--precision f32`.
    static func problems(for manifest: EngineManifest) -> [Problem] {
        let bias = manifest.weightFiles[EngineTensorNames.qkvBias(0)] != nil
        let products = DecoderProduct.all(config: manifest.config, queryKeyValueBias: bias,
                                          maxTokens: manifest.memoryPlan.maxTokens, maxBatch: manifest.memoryPlan.maxBatch)
        let precisions: [MatmulPrecision] = manifest.dtype == "f32" ? [.bf16, .f32] : [.bf16]
        var seen = Set<MatmulTuningKey>()
        var problems: [Problem] = []
        for precision in precisions {
            for product in products {
                for rows in LinearProblem.tuningRows(upTo: product.maxRows) {
                    let problem = LinearProblem(rows: rows, outputs: product.outputs, inputs: product.inputs)
                    guard seen.insert(MatmulTuningKey(problem, precision: precision, bias: product.bias)).inserted else { continue }
                    problems.append(Problem(problem: problem, precision: precision, bias: product.bias))
                }
            }
        }
        return problems
    }

    /// Tunes `manifest`'s problems and returns the record for its `autotune` field (device and
    /// cuBLASLt version included). A problem cuBLASLt refuses is skipped and counted in the one
    /// line logged: the engine still runs, it tunes that shape on first use.
    func tune(_ manifest: EngineManifest, log: (String) -> Void) throws -> [String: String] {
        let stream = try CUDAStream(device: runtime.device)
        let problems = Self.problems(for: manifest)
        let start = Date()
        var failures: [String] = []
        for item in problems {
            do {
                try engine.tune(item.problem, precision: item.precision, bias: item.bias, on: stream)
            } catch {
                failures.append("\(MatmulTuningKey(item.problem, precision: item.precision, bias: item.bias)): \(error)")
            }
        }
        let seconds = String(format: "%.1f", Date().timeIntervalSince(start))
        log("autotune: \(problems.count - failures.count) of \(problems.count) product shapes tuned on \(runtime.device.name) "
            + "(cuBLASLt \(engine.blas.versionText)) in \(seconds) s" + (failures.first.map { "; first failure: \($0)" } ?? ""))
        return engine.autotuneRecord()
    }
}
