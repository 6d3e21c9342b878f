import Foundation
import KilnCore

/// Compiled kernels on disk: one CUBIN file per (source, headers, options, architecture, NVRTC
/// version), named by the SHA-256 of all of them, so a warm start compiles nothing and any change
/// to any input is a different file. Writes are atomic (temporary file, then rename), so
/// concurrent processes at worst compile the same thing twice.
public final class KernelCache: @unchecked Sendable {
    /// Bumped when the cache's file layout or key recipe changes.
    static let formatVersion = "kiln-kernel-cache-1"

    /// Where the CUBINs live; nil keeps nothing on disk.
    public let directory: String?
    private let lock = NSLock()
    private var counters = (hits: 0, misses: 0, compileSeconds: 0.0)

    /// A cache in `directory` (created on first store); nil for none.
    public init(directory: String?) {
        self.directory = directory
    }

    /// `$KILN_CACHE/kernels`, else `$XDG_CACHE_HOME/kiln/kernels`, else `~/.cache/kiln/kernels`.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let root = environment["KILN_CACHE"], !root.isEmpty { return root + "/kernels" }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/kiln/kernels" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.cache/kiln/kernels"
    }

    /// The cache key: hex SHA-256 over every input of the compilation, each length-prefixed.
    public static func key(source: String, headers: [(name: String, text: String)], options: [String],
                           architecture: String, compilerVersion: String) -> String {
        var hash = SHA256()
        func field(_ text: String) {
            hash.update("\(text.utf8.count):")
            hash.update(text)
        }
        field(formatVersion)
        field(source)
        for header in headers { field(header.name); field(header.text) }
        for option in options { field(option) }
        field(architecture)
        field(compilerVersion)
        return hash.hexDigest()
    }

    /// The CUBIN for `key`: from disk when present and well-formed (an ELF file), otherwise from
    /// `compile`, then stored. `hit` says which.
    public func cubin(key: String, compile: () throws -> [UInt8]) throws -> (bytes: [UInt8], hit: Bool) {
        if let bytes = load(key: key) {
            lock.lock(); counters.hits += 1; lock.unlock()
            return (bytes, true)
        }
        let start = Date()
        let bytes = try compile()
        let seconds = Date().timeIntervalSince(start)
        lock.lock(); counters.misses += 1; counters.compileSeconds += seconds; lock.unlock()
        store(bytes, key: key)
        return (bytes, false)
    }

    /// Hits, misses and seconds spent compiling, since creation.
    public var statistics: (hits: Int, misses: Int, compileSeconds: Double) {
        lock.lock()
        defer { lock.unlock() }
        return counters
    }

    /// The path of `key`'s file.
    public func path(key: String) -> String? { directory.map { "\($0)/\(key).cubin" } }

    private func load(key: String) -> [UInt8]? {
        guard let path = path(key: key), let data = FileManager.default.contents(atPath: path) else { return nil }
        let bytes = [UInt8](data)
        // A truncated or foreign file is ignored (and overwritten by the next store).
        guard bytes.count > 64, bytes.prefix(4) == [0x7F, 0x45, 0x4C, 0x46] else { return nil }
        return bytes
    }

    /// Best effort: a cache that cannot be written costs a compile next time, nothing more.
    private func store(_ bytes: [UInt8], key: String) {
        guard let directory, let path = path(key: key) else { return }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let temporary = "\(directory)/.\(key).\(ProcessInfo.processInfo.processIdentifier).tmp"
            try Data(bytes).write(to: URL(fileURLWithPath: temporary))
            if rename(temporary, path) != 0 { try? FileManager.default.removeItem(atPath: temporary) }
        } catch {
            return
        }
    }
}
