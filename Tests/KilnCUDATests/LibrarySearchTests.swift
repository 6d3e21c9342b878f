import Foundation
import KilnCore
import Testing
@testable import KilnCUDA

@Suite struct LibrarySearchTests {
    @Test func missingLibraryIsAClearError() throws {
        let search = LibrarySearch(what: "a test library", fileNames: ["libkiln-missing-for-test.so", "libkiln-missing-for-test.so.9"],
                                   preferredDirectories: ["/nonexistent/preferred"], useLoaderPath: true,
                                   directories: ["/nonexistent/one", "/nonexistent/two"], advice: "Install the test library.")
        do {
            _ = try DynamicLibrary.open(search)
            Issue.record("opened a library that does not exist")
        } catch let error as KilnError {
            guard case let .missingFile(path, reason) = error else { Issue.record("wrong case: \(error)"); return }
            #expect(path == "libkiln-missing-for-test.so")
            for expected in ["a test library not found", "libkiln-missing-for-test.so.9", "loader's path", "/nonexistent/preferred",
                             "/nonexistent/one", "/nonexistent/two", "Install the test library."] {
                #expect(reason.contains(expected), "\(expected) missing from: \(reason)")
            }
        }
    }

    @Test func candidatesPutUserFoldersFirstThenTheLoaderThenTheRest() {
        let search = LibrarySearch(what: "x", fileNames: ["a.so", "a.so.1"], preferredDirectories: ["/user"], useLoaderPath: true,
                                   directories: ["/cuda/lib64/", "/site/nvidia/cu13/lib"], advice: "")
        #expect(search.candidates() == ["/user/a.so", "/user/a.so.1", "a.so", "a.so.1", "/cuda/lib64/a.so", "/cuda/lib64/a.so.1",
                                        "/site/nvidia/cu13/lib/a.so", "/site/nvidia/cu13/lib/a.so.1"])
    }

    @Test func aFileThatIsNotALibraryIsReportedAsFoundButNotUsed() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Data("not an ELF file".utf8).write(to: URL(fileURLWithPath: folder + "/libfake.so"))
        let search = LibrarySearch(what: "fake", fileNames: ["libfake.so"], useLoaderPath: false, directories: [folder], advice: "")
        #expect {
            try DynamicLibrary.open(search)
        } throws: { error in
            "\(error)".contains("found but not used: \(folder)/libfake.so")
        }
    }

    @Test func pipWheelLayoutsAreFoundUnderSitePackages() throws {
        // nvidia-cuda-nvrtc (CUDA 13): nvidia/cu13/lib; nvidia-cuda-nvrtc-cu12: nvidia/cuda_nvrtc/lib.
        let site = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: site) }
        for package in ["cuda_nvrtc", "cu13", "cublas"] {
            try FileManager.default.createDirectory(atPath: "\(site)/nvidia/\(package)/lib", withIntermediateDirectories: true)
        }
        try FileManager.default.createDirectory(atPath: "\(site)/nvidia/no_lib_folder", withIntermediateDirectories: true)
        let locations = CUDALibraryLocations(environment: [:], askPython: false)
        #expect(locations.pythonLibraryDirectories(sitePackages: [site, "/nonexistent"])
                == ["\(site)/nvidia/cu13/lib", "\(site)/nvidia/cuda_nvrtc/lib", "\(site)/nvidia/cublas/lib"])
    }

    @Test func sitePackagesComeFromTheEnvironment() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let site = "\(root)/venv/lib/python3.12/site-packages"
        try FileManager.default.createDirectory(atPath: site + "/nvidia/cu13/lib", withIntermediateDirectories: true)
        let locations = CUDALibraryLocations(environment: ["VIRTUAL_ENV": "\(root)/venv", "HOME": root], askPython: false)
        #expect(locations.sitePackagesDirectories().first == site)
        let search = locations.nvrtc()
        #expect(search.directories.contains(site + "/nvidia/cu13/lib"))
        #expect(search.directories.firstIndex(of: "/usr/local/cuda/lib64")! < search.directories.firstIndex(of: site + "/nvidia/cu13/lib")!)
    }

    @Test func userAndToolkitFoldersComeFromTheEnvironment() {
        let locations = CUDALibraryLocations(environment: ["KILN_CUDA_LIBRARY_PATH": "/a:/b", "CUDA_HOME": "/opt/cuda", "HOME": "/nonexistent"],
                                             askPython: false)
        let search = locations.nvrtc()
        #expect(search.preferredDirectories == ["/a", "/b"])
        #expect(Array(search.directories.prefix(3)) == ["/opt/cuda/lib64", "/opt/cuda/lib", "/usr/local/cuda/lib64"])
        #expect(locations.driver().fileNames.first == "libcuda.so.1")
    }

    /// On a machine without a GPU driver this is the clear error; with one, a working driver.
    @Test func openingTheDriverNeverCrashes() {
        do {
            let driver = try CUDADriver()
            #expect(driver.version >= CUDADriver.minimumVersion)
        } catch let error as KilnError {
            #expect(!error.description.isEmpty)
        } catch {
            Issue.record("not a KilnError: \(error)")
        }
    }
}

/// A fresh empty folder under the temporary directory.
func temporaryFolder() throws -> String {
    let path = NSTemporaryDirectory() + "kiln-cuda-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
