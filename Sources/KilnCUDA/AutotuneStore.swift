import Foundation

/// Autotune records on disk, beside the compiled kernels: one JSON object per (GPU name,
/// cuBLASLt version) in `autotune-<device>-<version>.json`, because a `cublasLtMatmulAlgo_t` is
/// only valid for the library that described it and a timing only means something on the GPU it
/// ran on. The file holds a `MatmulEngine.autotuneRecord()` as it is, "device" and "cublasLt"
/// included, so `MatmulEngine.restore` checks it like any other record.
///
/// Best effort, like `KernelCache`: a missing, damaged or foreign file reads as empty, and a file
/// that cannot be written is skipped (the next run tunes again), never an error. Saving merges
/// with what is on disk and is atomic (temporary file, then rename), so two runs saving at once
/// can at worst lose one another's newest choices, never leave a torn file.
public struct AutotuneStore: Sendable {
    /// Where the files live (the kernel cache's directory); nil keeps nothing on disk.
    public let directory: String?

    /// A store in `directory` (created on first save); nil for none.
    public init(directory: String?) {
        self.directory = directory
    }

    /// "autotune-NVIDIA_H100_80GB_HBM3-130100.json": the device name with every character
    /// other than a letter, digit, "." or "-" made "_" (names hold spaces, and could hold "/").
    public static func fileName(device: String, cublasLt: String) -> String {
        func sanitised(_ text: String) -> String {
            String(text.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") ? $0 : "_" })
        }
        return "autotune-\(sanitised(device))-\(sanitised(cublasLt)).json"
    }

    /// The file for a GPU and cuBLASLt version, or nil without a directory.
    public func path(device: String, cublasLt: String) -> String? {
        directory.map { "\($0)/\(Self.fileName(device: device, cublasLt: cublasLt))" }
    }

    /// The stored record for a GPU and cuBLASLt version; empty when there is none, it is not a
    /// JSON object of strings, or it was written for another device or version (two names can
    /// sanitise to the same file).
    public func load(device: String, cublasLt: String) -> [String: String] {
        guard let path = path(device: device, cublasLt: cublasLt), let data = FileManager.default.contents(atPath: path),
              let record = try? JSONDecoder().decode([String: String].self, from: data),
              record["device"] == device, record["cublasLt"] == cublasLt else { return [:] }
        return record
    }

    /// Merges `record` (an `autotuneRecord()`, which names its device and cuBLASLt version) into
    /// its file, `record`'s entries replacing stored ones with the same key. Returns whether the
    /// file was written: false without a directory, for a record that does not name its device
    /// and version, or when the directory or file cannot be written.
    @discardableResult
    public func save(_ record: [String: String]) -> Bool {
        guard let directory, let device = record["device"], let cublasLt = record["cublasLt"],
              let path = path(device: device, cublasLt: cublasLt) else { return false }
        let merged = load(device: device, cublasLt: cublasLt).merging(record) { _, new in new }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]  // readable, and diffable between runs
        let temporary = "\(directory)/.\(Self.fileName(device: device, cublasLt: cublasLt)).\(ProcessInfo.processInfo.processIdentifier).tmp"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try encoder.encode(merged).write(to: URL(fileURLWithPath: temporary))
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            return false
        }
        guard rename(temporary, path) == 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            return false
        }
        return true
    }
}
