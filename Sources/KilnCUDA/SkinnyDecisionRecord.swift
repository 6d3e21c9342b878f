import KilnCore

/// The skinny-GEMM decisions (CUDABackend+SkinnyGEMM.swift: skinny kernel or library, timed per
/// shape) as autotune-record entries, so that they are kept across runs with cuBLASLt's choices
/// (`AutotuneStore`'s file is per GPU and cuBLASLt version, which is what a decision against the
/// library depends on). One entry a shape:
///
///     "skinny <kernel> n<N> k<K> m<rows> <source>"  ->  "library" | "n<BN> m<MT> x<S>" [" tma"] | "w<BN> s<slots> x<S>" [" c2" | " c4"] [" m2" | " m4"] [" ws"]
///
/// (the last form: skinny_gemm_swap.cu's kernels). `<source>` is the first 12 hex digits of the
/// SHA-256 of skinny_gemm.cu, skinny_gemm_swap.cu and skinny_common.cuh, so a changed kernel
/// times its shapes again instead of trusting a decision about other code. Keys that do not parse,
/// name another source, or hold a configuration the kernel file does not export are ignored.
public enum SkinnyDecisionRecord {
    /// The key prefix; MatmulEngine.restore ignores keys that are not its own.
    static let prefix = "skinny "

    /// The digest the current skinny_gemm.cu gives, with the kernel switches it is compiled with
    /// (KILN_KERNEL_DEFINES), the decision rule's KILN_SKINNY_PREFER when set, KILN_SKINNY_TMA=0
    /// when set and the timing rule (KILN_SKINNY_TIMING): a decision made for another variant, rule or candidate set is not this one's.
    static let currentSource: String = {
        var hash = SHA256()
        hash.update(KernelLibrary.sources.first { $0.fileName == "skinny_gemm.cu" }?.text ?? "")
        hash.update(KernelLibrary.sources.first { $0.fileName == "skinny_gemm_swap.cu" }?.text ?? "")
        hash.update(KernelLibrary.headers.first { $0.name == "skinny_common.cuh" }?.text ?? "")
        if !KernelLibrary.experimentDefines.isEmpty { hash.update(" " + KernelLibrary.experimentDefines.joined(separator: ",")) }
        if CUDABackend.skinnyPreferenceSetting != 1 { hash.update(" prefer \(CUDABackend.skinnyPreferenceSetting)") }
        if !CUDABackend.skinnyTMASetting { hash.update(" no tma") }
        if !CUDABackend.skinnySwapSetting { hash.update(" no swap") }
        if CUDABackend.skinnyMulticastSetting { hash.update(" multicast") }
        // The timing rule (session 16): decisions timed in the chain are not those timed back to back.
        hash.update(timingRuleTag(chain: CUDABackend.skinnyChainTimingSetting))
        return String(hash.finalizeHex().prefix(12))
    }()

    /// What the timing rule adds to the digest: decisions timed in the chain (cold weights, a
    /// programmatic predecessor) and back to back (KILN_SKINNY_TIMING=hot) are kept apart.
    static func timingRuleTag(chain: Bool) -> String { chain ? " chain timing" : " hot timing" }

    /// The record key for a shape.
    static func key(_ shape: GEMVKey, source: String = currentSource) -> String {
        "\(prefix)\(shape.kernel) n\(shape.outputs) k\(shape.inputs) m\(shape.rows) \(source)"
    }

    /// The record value for a decision.
    static func value(_ path: SkinnyProductPath) -> String {
        switch path {
        case .library: return "library"
        case .skinny(let choice): return choice.description  // the record's form (SkinnyGEMMChoice.description)
        }
    }

    /// The shape a key names, when it is a skinny key of `source`.
    static func shape(_ key: String, source: String = currentSource) -> GEMVKey? {
        guard key.hasPrefix(prefix) else { return nil }
        let fields = key.dropFirst(prefix.count).split(separator: " ").map(String.init)
        guard fields.count == 5, fields[4] == source, fields[0].hasPrefix("skinny_gemm_"),
              let outputs = number(fields[1], "n"), let inputs = number(fields[2], "k"), let rows = number(fields[3], "m"),
              outputs > 0, inputs > 0, rows > 0 else { return nil }
        return GEMVKey(kernel: fields[0], outputs: outputs, inputs: inputs, rows: rows)
    }

    /// The decision a value names, when the kernel file exports that configuration.
    static func path(_ value: String) -> SkinnyProductPath? {
        if value == "library" { return .library }
        let fields = value.split(separator: " ").map(String.init)
        if fields.count >= 3, let bn = number(fields[0], "w"), let stages = number(fields[1], "s"), let splits = number(fields[2], "x") {
            // Then " c2" / " c4" (consumer warpgroups) and " m2" / " m4" (multicast, whole K only), in that order.
            var rest = fields.dropFirst(3)
            let consumers = rest.first.flatMap { ["c2": 2, "c4": 4][$0] } ?? 1
            if consumers > 1 { rest = rest.dropFirst() }
            let multicast = rest.first.flatMap { ["m2": 2, "m4": 4][$0] } ?? 1
            if multicast > 1 { rest = rest.dropFirst() }
            let workspace = rest.first == "ws"  // split K through a workspace
            if workspace { rest = rest.dropFirst() }
            guard rest.isEmpty, SkinnyGEMMChoice.swappedWidths.contains(bn), stages >= 2, stages <= 64, [1, 2, 4, 8, 16].contains(splits),
                  multicast == 1 || splits == 1, stages % consumers == 0, workspace ? splits > 1 && multicast == 1 : splits <= 8 else { return nil }
            return .skinny(.swapped(rowsPerBlock: bn, stages: stages, splits: splits, consumers: consumers, multicast: multicast,
                                    workspace: workspace))
        }
        guard fields.count == 3 || (fields.count == 4 && fields[3] == "tma"), let bn = number(fields[0], "n"),
              let mt = number(fields[1], "m"), let splits = number(fields[2], "x"),
              SkinnyGEMMChoice.shapes.contains(where: { $0.rowsPerBlock == bn && $0.batchTile == mt }),
              [1, 2, 4, 8].contains(splits) else { return nil }
        return .skinny(SkinnyGEMMChoice(rowsPerBlock: bn, batchTile: mt, splits: splits, tma: fields.count == 4))
    }

    /// Whether a restored `choice` can run `shape` here: a split needs clusters unless through a
    /// workspace, and a workspace split a plain product with N a multiple of 4 (a gate/up kernel
    /// traps on one); multicast needs clusters; a TMA or swapped kernel needs `tma` (sm_90a,
    /// tensor maps, not switched off); a swapped one also `swapped` (KILN_SKINNY_SWAP), a ring that
    /// fits `sharedBytesPerBlock`, and a width its kernel file exports for the product's kind.
    static func usable(_ choice: SkinnyGEMMChoice, for shape: GEMVKey, clusters: Bool, tma: Bool, swapped: Bool,
                       sharedBytesPerBlock: Int) -> Bool {
        let gated = shape.kernel.hasPrefix("skinny_gemm_gateup_")
        if ((choice.splits > 1 && !choice.workspace) || choice.multicast > 1) && !clusters { return false }
        if choice.workspace && (gated || shape.outputs % 4 != 0) { return false }
        if choice.tma && !tma { return false }
        if choice.swapped && (!swapped || choice.sharedBytes > sharedBytesPerBlock
                              || !SkinnyGEMMChoice.swappedWidths(gated: gated).contains(choice.rowsPerBlock)) { return false }
        return true
    }

    /// "n2048" with tag "n" -> 2048.
    private static func number(_ field: String, _ tag: Character) -> Int? {
        guard field.first == tag else { return nil }
        return Int(field.dropFirst())
    }
}

extension CUDABackend {
    /// The skinny decisions made so far, as autotune-record entries.
    public func skinnyRecord() -> [String: String] {
        skinnyPaths.withLock { paths in
            Dictionary(uniqueKeysWithValues: paths.map { (SkinnyDecisionRecord.key($0.key), SkinnyDecisionRecord.value($0.value)) })
        }
    }

    /// Takes the skinny entries of `record` that are valid for this kernel file (and this GPU: a
    /// split needs clusters unless through a workspace, a TMA variant sm_90a and tensor maps; a
    /// workspace split a plain product with N a multiple of 4); returns how many. Decisions already made in this run stay.
    @discardableResult
    public func restoreSkinny(_ record: [String: String]) -> Int {
        var taken = 0
        skinnyPaths.withLock { paths in
            for (key, value) in record {
                guard let shape = SkinnyDecisionRecord.shape(key), paths[shape] == nil,
                      let path = SkinnyDecisionRecord.path(value) else { continue }
                if case .skinny(let choice) = path,
                   !SkinnyDecisionRecord.usable(choice, for: shape, clusters: supportsClusters, tma: supportsSkinnyTMA && skinnyTMAEnabled,
                                                swapped: skinnySwapEnabled, sharedBytesPerBlock: swappedSharedLimit) {
                    continue
                }
                paths[shape] = path
                taken += 1
            }
        }
        return taken
    }
}

/// The autotune choices of a CUDA backend: its matmul engine's (cuBLASLt algorithms) and its
/// skinny-GEMM decisions, in one record (AutotuneSession keeps it across runs).
public final class CUDABackendAutotune: AutotuneRecordHolder {
    public let engine: MatmulEngine
    public let backend: CUDABackend

    public init(engine: MatmulEngine, backend: CUDABackend) {
        self.engine = engine
        self.backend = backend
    }

    public func autotuneRecord() -> [String: String] {
        engine.autotuneRecord().merging(backend.skinnyRecord()) { engineValue, _ in engineValue }
    }

    @discardableResult
    public func restore(_ record: [String: String]) -> Int {
        engine.restore(record) + backend.restoreSkinny(record)
    }
}
