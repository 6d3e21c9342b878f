#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnCore

/// A shared library opened with `dlopen` at run time. Kept open for the life of the process
/// (CUDA libraries are never unloaded safely while contexts or programs exist).
public final class DynamicLibrary: @unchecked Sendable {
    /// The name or path it was opened by.
    public let path: String
    private let handle: UnsafeMutableRawPointer

    private init(path: String, handle: UnsafeMutableRawPointer) {
        self.path = path
        self.handle = handle
    }

    /// The C function `name`, as the `@convention(c)` function type `T`.
    func function<T>(_ name: String) throws -> T {
        guard let symbol = dlsym(handle, name) else {
            throw KilnError.unsupported(
                path: path,
                reason: "has no function \(name): this library is older than Kiln supports (it needs CUDA 12 or newer); update the NVIDIA driver or CUDA library")
        }
        return unsafeBitCast(symbol, to: T.self)
    }

    /// Opens the first candidate of `search` that loads and that `accept` takes (it returns
    /// nil to take a library, or why not). Throws a `KilnError` listing every name and folder
    /// tried, what was found but refused, and `search.advice`.
    public static func open(_ search: LibrarySearch,
                            accept: (DynamicLibrary) -> String? = { _ in nil }) throws -> DynamicLibrary {
        var refusals: [String] = []
        for candidate in search.candidates() {
            // A bare name goes through the loader's own search; a path must exist.
            if candidate.contains("/") && access(candidate, F_OK) != 0 { continue }
            guard let handle = dlopen(candidate, RTLD_NOW | RTLD_LOCAL) else {
                if candidate.contains("/") {
                    let reason = dlerror().map { String(cString: $0) } ?? "dlopen failed"
                    refusals.append("\(candidate) (\(reason))")
                }
                continue
            }
            let library = DynamicLibrary(path: resolvedPath(of: handle, symbol: search.probeSymbol) ?? candidate, handle: handle)
            if let reason = accept(library) {
                refusals.append("\(library.path) (\(reason))")
                continue
            }
            return library
        }
        var reason = "\(search.what) not found: looked for \(search.fileNames.joined(separator: ", "))"
        if search.useLoaderPath { reason += " on the loader's path (LD_LIBRARY_PATH, ldconfig)" }
        let folders = search.preferredDirectories + search.directories
        reason += folders.isEmpty ? "" : (search.useLoaderPath ? " and" : "") + " in " + folders.joined(separator: ", ")
        if !refusals.isEmpty { reason += "; found but not used: " + refusals.joined(separator: "; ") }
        reason += ". " + search.advice
        throw KilnError.missingFile(path: search.fileNames.first ?? search.what, reason: reason)
    }

    /// The file a handle was loaded from: the mapping of /proc/self/maps that holds one of its
    /// symbols (Glibc's dlinfo and dladdr are not visible to Swift).
    private static func resolvedPath(of handle: UnsafeMutableRawPointer, symbol: String?) -> String? {
        guard let symbol, let address = dlsym(handle, symbol).map({ UInt(bitPattern: $0) }),
              let file = fopen("/proc/self/maps", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let fields = text.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, let dash = fields[0].firstIndex(of: "-"),
                  let start = UInt(fields[0][..<dash], radix: 16),
                  let end = UInt(fields[0][fields[0].index(after: dash)...], radix: 16) else { continue }
            if address >= start && address < end { return fields[5...].joined(separator: " ") }
        }
        return nil
    }
}

/// Which names and folders a library is looked for in, and what to tell the user when it is
/// not there. Pure data, so the search order is testable without CUDA.
public struct LibrarySearch: Sendable, Equatable {
    /// What the library is, for messages ("the NVIDIA driver library").
    public var what: String
    /// File names tried in order, in each place (`libnvrtc.so`, `libnvrtc.so.13`, ...).
    public var fileNames: [String]
    /// A function the library exports, used to find the file it was loaded from.
    public var probeSymbol: String?
    /// Folders the user named (`KILN_CUDA_LIBRARY_PATH`), tried before anything else.
    public var preferredDirectories: [String]
    /// Whether bare names are tried first through the dynamic loader's own search.
    public var useLoaderPath: Bool
    /// Folders tried after the loader's search, in order.
    public var directories: [String]
    /// What to do when nothing is found.
    public var advice: String

    /// Creates a search.
    public init(what: String, fileNames: [String], probeSymbol: String? = nil, preferredDirectories: [String] = [],
                useLoaderPath: Bool, directories: [String], advice: String) {
        self.what = what
        self.probeSymbol = probeSymbol
        self.fileNames = fileNames
        self.preferredDirectories = preferredDirectories
        self.useLoaderPath = useLoaderPath
        self.directories = directories
        self.advice = advice
    }

    /// Everything `dlopen` is tried with, in order: preferred folders, bare names (the loader's
    /// search), then the other folders; each folder with every file name.
    public func candidates() -> [String] {
        func paths(_ folders: [String]) -> [String] {
            folders.flatMap { folder in fileNames.map { folder.hasSuffix("/") ? folder + $0 : folder + "/" + $0 } }
        }
        return paths(preferredDirectories) + (useLoaderPath ? fileNames : []) + paths(directories)
    }
}
