/// What holds autotune choices: `MatmulEngine`, or `CUDABackendAutotune` (its choices and the
/// backend's skinny-GEMM decisions, SkinnyDecisionRecord.swift). A protocol so that the restore-then-save
/// bookkeeping of `AutotuneSession` is tested without a GPU.
public protocol AutotuneRecordHolder: AnyObject {
    /// Every choice, plus "device" and "cublasLt" naming what they are valid for.
    func autotuneRecord() -> [String: String]
    /// Takes the choices of a record valid here; returns how many were taken.
    @discardableResult func restore(_ record: [String: String]) -> Int
}

extension MatmulEngine: AutotuneRecordHolder {}

/// One run's autotune choices kept across runs: at the start, the engine directory's record
/// (from `kiln build`) and then the cache file's are restored into the matmul engine, so shapes
/// tuned before are not timed again; at the end, `save` writes the engine's record back to the
/// cache file when the run tuned a key the file did not have.
///
/// The cache file is restored second, so where both name a key its choice wins: it was timed on
/// this machine, more recently than the build.
public final class AutotuneSession {
    /// The engine whose choices are kept.
    public let holder: any AutotuneRecordHolder
    /// The cache file.
    public let store: AutotuneStore
    /// Choices taken from the engine directory's record.
    public let restoredFromEngine: Int
    /// Choices taken from the cache file.
    public let restoredFromCache: Int
    /// The keys the cache file held when last read or written.
    private var storedKeys: Set<String>

    /// Restores `engineRecord` (empty when the model is not an engine directory), then the cache
    /// file's record for the holder's device and cuBLASLt version.
    public init(holder: any AutotuneRecordHolder, store: AutotuneStore, engineRecord: [String: String] = [:]) {
        self.holder = holder
        self.store = store
        restoredFromEngine = engineRecord.isEmpty ? 0 : holder.restore(engineRecord)
        let identity = holder.autotuneRecord()
        let stored = identity["device"].flatMap { device in
            identity["cublasLt"].map { store.load(device: device, cublasLt: $0) }
        } ?? [:]
        restoredFromCache = stored.isEmpty ? 0 : holder.restore(stored)
        storedKeys = Set(stored.keys)
    }

    /// Writes the holder's record to the cache file (merged with what is there) when it has a key
    /// the file lacks: a shape tuned during the run, or one restored from the engine directory.
    /// Returns whether it wrote; an unwritable cache is skipped. Only new keys count: the matmul
    /// engine tunes a key once and never replaces a restored choice while running.
    @discardableResult
    public func save() -> Bool {
        let record = holder.autotuneRecord()
        // "device" and "cublasLt" are in every record: a run that tuned nothing writes nothing.
        let gained = record.keys.contains { !storedKeys.contains($0) && $0 != "device" && $0 != "cublasLt" }
        guard gained, store.save(record) else { return false }
        storedKeys.formUnion(record.keys)
        return true
    }
}
