import Foundation

/// Where Kiln looks for CUDA's libraries: folders the user names (`KILN_CUDA_LIBRARY_PATH`), the
/// loader's path, the CUDA toolkit (`$CUDA_HOME/lib64`, `/usr/local/cuda/lib64`) and Python's
/// `site-packages/nvidia/*/lib`, where pip's wheels put them (`nvidia-cuda-nvrtc` for CUDA 13:
/// `nvidia/cu13/lib/libnvrtc.so.13`; `nvidia-cuda-nvrtc-cu12`: `nvidia/cuda_nvrtc/lib/libnvrtc.so.12`,
/// each beside its `libnvrtc-builtins`, which libnvrtc finds through its `$ORIGIN` run path).
public struct CUDALibraryLocations: Sendable {
    /// The process environment the search reads (injectable for tests).
    public var environment: [String: String]
    /// Whether to ask `python3` for its site-packages when no other folder holds the library.
    public var askPython: Bool

    /// Locations from this process's environment.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, askPython: Bool = true) {
        self.environment = environment
        self.askPython = askPython
    }

    /// The NVRTC search: newest major version first within each folder.
    public func nvrtc(extraDirectories: [String] = []) -> LibrarySearch {
        let sites = sitePackagesDirectories()
        return LibrarySearch(
            what: "NVRTC, CUDA's run-time compiler",
            fileNames: ["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"],
            probeSymbol: "nvrtcVersion",
            preferredDirectories: userDirectories,
            useLoaderPath: true,
            directories: toolkitDirectories + pythonLibraryDirectories(sitePackages: sites) + extraDirectories,
            advice: "Python site-packages searched for nvidia/*/lib: \(sites.isEmpty ? "none found" : sites.joined(separator: ", ")). Install it with `python3 -m pip install nvidia-cuda-nvrtc` (CUDA 13; `nvidia-cuda-nvrtc-cu12` for a CUDA 12 driver) "
                + "or the CUDA toolkit, or set CUDA_HOME or KILN_CUDA_LIBRARY_PATH to the folder that holds libnvrtc.so")
    }

    /// The driver search (libcuda.so.1 comes with the NVIDIA driver, not the toolkit).
    public func driver() -> LibrarySearch {
        LibrarySearch(
            what: "the NVIDIA driver's CUDA library",
            fileNames: ["libcuda.so.1", "libcuda.so"],
            probeSymbol: "cuInit",
            preferredDirectories: userDirectories,
            useLoaderPath: true,
            directories: ["/usr/local/nvidia/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib/wsl/lib"],
            advice: "It is installed with the NVIDIA driver: install the driver (in a container, run it with the NVIDIA container "
                + "toolkit, e.g. `docker run --gpus all`), or run on the CPU with --backend cpu")
    }

    /// `KILN_CUDA_LIBRARY_PATH`, colon-separated.
    var userDirectories: [String] {
        (environment["KILN_CUDA_LIBRARY_PATH"] ?? "").split(separator: ":").map(String.init)
    }

    /// The CUDA toolkit's library folders.
    var toolkitDirectories: [String] {
        var folders: [String] = []
        for variable in ["CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"] {
            if let root = environment[variable], !root.isEmpty { folders += [root + "/lib64", root + "/lib"] }
        }
        folders += ["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/local/cuda/targets/sbsa-linux/lib"]
        return unique(folders)
    }

    /// `site/nvidia/<package>/lib` for every site-packages folder that has one, in order;
    /// within a site folder the CUDA 13 layout (`cu13`) first, then the others by name.
    public func pythonLibraryDirectories(sitePackages: [String]) -> [String] {
        var folders: [String] = []
        for site in sitePackages {
            let nvidia = site + "/nvidia"
            guard let packages = try? FileManager.default.contentsOfDirectory(atPath: nvidia) else { continue }
            let ordered = packages.sorted { a, b in
                let rankA = a.hasPrefix("cu1") ? 0 : 1, rankB = b.hasPrefix("cu1") ? 0 : 1
                return rankA != rankB ? rankA < rankB : a > b
            }
            for package in ordered {
                let lib = nvidia + "/" + package + "/lib"
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: lib, isDirectory: &isDirectory), isDirectory.boolValue { folders.append(lib) }
            }
        }
        return unique(folders)
    }

    /// Python site-packages folders found without running Python: the active virtual or conda
    /// environment, PYTHONPATH, the user's site, each `python3` on PATH (as found and with links
    /// resolved), pyenv's versions, and the system's; last, if none of these has an `nvidia`
    /// folder and `askPython` is set, what `python3` itself reports.
    public func sitePackagesDirectories() -> [String] {
        var prefixes: [String] = []
        if let virtualEnvironment = environment["VIRTUAL_ENV"] { prefixes.append(virtualEnvironment) }
        if let conda = environment["CONDA_PREFIX"] { prefixes.append(conda) }
        for folder in (environment["PATH"] ?? "").split(separator: ":").map(String.init) {
            let python = folder + "/python3"
            guard FileManager.default.isExecutableFile(atPath: python) else { continue }
            prefixes.append((folder as NSString).deletingLastPathComponent)
            let resolved = (python as NSString).resolvingSymlinksInPath
            prefixes.append(((resolved as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent)
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        let pyenv = environment["PYENV_ROOT"] ?? home + "/.pyenv"
        for version in (try? FileManager.default.contentsOfDirectory(atPath: pyenv + "/versions"))?.sorted() ?? [] {
            prefixes.append(pyenv + "/versions/" + version)
        }
        prefixes += [home + "/.local", "/usr/local", "/usr", "/opt/conda"]

        var sites: [String] = (environment["PYTHONPATH"] ?? "").split(separator: ":").map(String.init)
        for prefix in unique(prefixes.map { $0.count > 1 && $0.hasSuffix("/") ? String($0.dropLast()) : ($0 == "/" ? "" : $0) }) {
            for lib in [prefix + "/lib", prefix + "/lib64"] {
                let versions = (try? FileManager.default.contentsOfDirectory(atPath: lib))?.filter { $0.hasPrefix("python3") }.sorted(by: >) ?? []
                for version in versions {
                    sites += [lib + "/" + version + "/site-packages", lib + "/" + version + "/dist-packages"]
                }
            }
            sites.append(prefix + "/lib/python3/dist-packages")
        }
        sites = unique(sites).filter { FileManager.default.fileExists(atPath: $0) }
        if askPython && !sites.contains(where: { FileManager.default.fileExists(atPath: $0 + "/nvidia") }) {
            sites += Self.sitePackagesReportedByPython()
        }
        return unique(sites)
    }

    /// What `python3 -c 'import site; ...'` lists (empty when there is no python3 or it fails).
    static func sitePackagesReportedByPython() -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import site; print('\\n'.join(site.getsitepackages() + [site.getusersitepackages()]))"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return [] }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
            .filter { !$0.isEmpty && FileManager.default.fileExists(atPath: $0) }
    }

    private func unique(_ items: [String]) -> [String] {
        var seen = Set<String>()
        return items.filter { seen.insert($0).inserted }
    }
}
