import Foundation
import Testing
@testable import KilnCUDA

/// The autotune cache file: named by device and cuBLASLt version, JSON that round-trips, merged
/// on save, atomic, and harmless when it cannot be written.
@Suite struct AutotuneStoreTests {
    static let device = "NVIDIA H100 80GB HBM3"
    static let version = "130100"
    static let choice = "id=21 tile=20 stages=21 splitk=1 ws=0 us=12.345 first_us=13.210 rank=2 of=8 m=64 algo=" + String(repeating: "0", count: 128)

    static func record(_ choices: [String: String]) -> [String: String] {
        choices.merging(["device": device, "cublasLt": version]) { $1 }
    }

    @Test func fileNamesAreSafeAndDistinguishDevicesAndVersions() {
        #expect(AutotuneStore.fileName(device: Self.device, cublasLt: Self.version) == "autotune-NVIDIA_H100_80GB_HBM3-130100.json")
        #expect(AutotuneStore.fileName(device: "a/b: c", cublasLt: "12.9") == "autotune-a_b__c-12.9.json")
        #expect(AutotuneStore.fileName(device: "NVIDIA H200", cublasLt: "130100") != AutotuneStore.fileName(device: "NVIDIA H100", cublasLt: "130100"))
        #expect(AutotuneStore.fileName(device: "NVIDIA H100", cublasLt: "130000") != AutotuneStore.fileName(device: "NVIDIA H100", cublasLt: "130100"))
        #expect(AutotuneStore(directory: "/c/kernels").path(device: "X", cublasLt: "1") == "/c/kernels/autotune-X-1.json")
        #expect(AutotuneStore(directory: nil).path(device: "X", cublasLt: "1") == nil)
    }

    @Test func savedRecordsLoadBackAndMerge() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = AutotuneStore(directory: folder + "/kernels")  // created on first save
        #expect(store.load(device: Self.device, cublasLt: Self.version).isEmpty)

        let first = Self.record(["matmul bf16 m1 n64 k32": Self.choice, "matmul bf16 m2 n64 k32": "old"])
        #expect(store.save(first))
        #expect(store.load(device: Self.device, cublasLt: Self.version) == first)
        // Another process's store reads the same file.
        #expect(AutotuneStore(directory: folder + "/kernels").load(device: Self.device, cublasLt: Self.version) == first)

        // A second save keeps keys it does not name and replaces those it does.
        #expect(store.save(Self.record(["matmul bf16 m2 n64 k32": "new", "matmul f32 m4 n8 k8 bias": Self.choice])))
        #expect(store.load(device: Self.device, cublasLt: Self.version) == Self.record([
            "matmul bf16 m1 n64 k32": Self.choice, "matmul bf16 m2 n64 k32": "new", "matmul f32 m4 n8 k8 bias": Self.choice,
        ]))
        // Other devices and versions have their own files.
        #expect(store.load(device: "NVIDIA H200", cublasLt: Self.version).isEmpty)
        #expect(store.load(device: Self.device, cublasLt: "120900").isEmpty)
        // No temporary files left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/kernels") == [AutotuneStore.fileName(device: Self.device, cublasLt: Self.version)])
    }

    @Test func damagedOrForeignFilesReadAsEmptyAndAreReplaced() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = AutotuneStore(directory: folder)
        let path = try #require(store.path(device: Self.device, cublasLt: Self.version))
        try Data("{\"device\": ".utf8).write(to: URL(fileURLWithPath: path))  // torn
        #expect(store.load(device: Self.device, cublasLt: Self.version).isEmpty)
        try Data("[1, 2]".utf8).write(to: URL(fileURLWithPath: path))  // not an object of strings
        #expect(store.load(device: Self.device, cublasLt: Self.version).isEmpty)
        // "NVIDIA/H100" sanitises to the same file name as "NVIDIA_H100": its record is not ours.
        let other = ["device": "NVIDIA/H100", "cublasLt": Self.version, "matmul bf16 m1 n8 k8": "theirs"]
        #expect(AutotuneStore.fileName(device: "NVIDIA/H100", cublasLt: Self.version) == AutotuneStore.fileName(device: "NVIDIA_H100", cublasLt: Self.version))
        #expect(store.save(other))
        #expect(store.load(device: "NVIDIA_H100", cublasLt: Self.version).isEmpty)
        // Saving over a damaged file writes the new record alone.
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: path))
        let record = Self.record(["matmul bf16 m1 n8 k8": Self.choice])
        #expect(store.save(record))
        #expect(store.load(device: Self.device, cublasLt: Self.version) == record)
    }

    @Test func anUnwritableOrMissingDirectoryIsHarmless() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A regular file where the directory should be: nothing can be created under it (this
        // holds for root too, unlike a directory without write permission).
        let blocker = folder + "/not-a-directory"
        try Data("x".utf8).write(to: URL(fileURLWithPath: blocker))
        let record = Self.record(["matmul bf16 m1 n8 k8": Self.choice])
        for store in [AutotuneStore(directory: blocker), AutotuneStore(directory: blocker + "/kernels"), AutotuneStore(directory: nil)] {
            #expect(!store.save(record))
            #expect(store.load(device: Self.device, cublasLt: Self.version).isEmpty)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["not-a-directory"])
        // A record that does not say what it is valid for is not stored.
        #expect(!AutotuneStore(directory: folder).save(["matmul bf16 m1 n8 k8": Self.choice]))
    }

    @Test func tuningRowsCoverEveryBucketUpToTheLimit() {
        #expect(LinearProblem.tuningRows(upTo: 0).isEmpty)
        #expect(LinearProblem.tuningRows(upTo: 1) == [1])
        #expect(LinearProblem.tuningRows(upTo: 100) == [1, 2, 4, 8, 16, 32, 64, 100])
        #expect(LinearProblem.tuningRows(upTo: 64) == [1, 2, 4, 8, 16, 32, 64])
        #expect(LinearProblem.tuningRows(upTo: 5000).suffix(2) == [4096, 5000])
        #expect(LinearProblem.tuningRows(upTo: 100_000).last == 8192)
        // Every M up to the limit falls in a tuned row's bucket.
        for limit in [1, 3, 100, 513, 8192, 9000] {
            let buckets = Set(LinearProblem.tuningRows(upTo: limit).map(LinearProblem.rowsBucket))
            #expect((1...limit).allSatisfy { buckets.contains(LinearProblem.rowsBucket($0)) }, "\(limit)")
        }
    }
}
