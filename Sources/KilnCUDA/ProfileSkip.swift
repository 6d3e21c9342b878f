import Foundation

/// Op classes a profiling run may leave out (`KILN_PROFILE_SKIP`, comma-separated names below):
/// the step is timed without them, inside CUDA graphs with programmatic launch as in a real run,
/// which per-kernel events cannot show (each event pair adds its own gap). Results are wrong
/// while any is skipped; only the decode-sized paths (GEMV, decode attention) honour it.
enum ProfileSkip: String, CaseIterable, Hashable {
    /// `addRMSNorm` (residual add + RMSNorm).
    case norm
    /// Decode attention (split kernel and reduce).
    case attention
    /// The QK-norm + RoPE + KV-write kernel after the Q/K/V product.
    case attentionInput = "attention-input"
    /// Fused gate/up GEMV.
    case gateUp = "gate-up"
    /// Plain GEMVs by weight size: below 16 M elements (Q/K/V, o), below 100 M (down), above (LM head).
    case smallProduct = "small-gemv"
    case mediumProduct = "medium-gemv"
    case largeProduct = "large-gemv"

    /// The class of a plain GEMV with `elements` weights.
    static func product(_ elements: Int) -> ProfileSkip {
        elements < 16 << 20 ? .smallProduct : elements < 100 << 20 ? .mediumProduct : .largeProduct
    }

    /// The classes named in `KILN_PROFILE_SKIP` (unknown names ignored).
    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Set<ProfileSkip> {
        guard let text = environment["KILN_PROFILE_SKIP"] else { return [] }
        return Set(text.split(separator: ",").compactMap { ProfileSkip(rawValue: $0.trimmingCharacters(in: .whitespaces)) })
    }
}
