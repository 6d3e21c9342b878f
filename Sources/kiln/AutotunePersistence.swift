import KilnCUDA
import KilnFormats

/// Autotune choices kept across runs of the commands that run models: before the work, the CUDA
/// backend's matmul engine gets the engine directory's record (when MODEL is one) and the kernel
/// cache's; after it, what the run tuned goes back to the cache (`AutotuneSession`), so the second
/// run of a shape times nothing and the first token comes without a tuning pause.
enum AutotunePersistence {
    /// A session for `backend`'s matmul engine, or nil when it has none (cuBLASLt missing: the
    /// reference kernel tunes nothing). The files go where the kernel cache is, so
    /// `CUDARuntime(cacheDirectory: nil)` keeps neither on disk.
    static func start(_ backend: CUDABackend, model: String?) -> AutotuneSession? {
        guard let engine = backend.matmul else { return nil }
        let engineRecord = model.flatMap(EngineManifest.readIfEngine(at:))?.autotune ?? [:]
        // cuBLASLt's choices and the skinny-GEMM decisions (skinny kernel or library per shape).
        return AutotuneSession(holder: CUDABackendAutotune(engine: engine, backend: backend),
                               store: AutotuneStore(directory: backend.runtime.kernels.cache.directory),
                               engineRecord: engineRecord)
    }
}
