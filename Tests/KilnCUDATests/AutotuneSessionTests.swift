import Foundation
import Testing
@testable import KilnCUDA

/// A matmul engine's record keeping without the GPU: `restore` checks the record's device and
/// version like `MatmulEngine.restore`, and `tune` adds a choice as a first-use autotune does.
final class FakeTuner: AutotuneRecordHolder {
    let identity = ["device": "NVIDIA H100 80GB HBM3", "cublasLt": "130100"]
    var choices: [String: String] = [:]
    var restores: [[String: String]] = []

    func autotuneRecord() -> [String: String] { choices.merging(identity) { $1 } }

    func restore(_ record: [String: String]) -> Int {
        restores.append(record)
        guard record["device"] == identity["device"], record["cublasLt"] == identity["cublasLt"] else { return 0 }
        let taken = record.filter { $0.key.hasPrefix("matmul ") }
        choices.merge(taken) { $1 }
        return taken.count
    }

    func tune(_ key: String) { choices[key] = "tuned \(key)" }
}

@Suite struct AutotuneSessionTests {
    @Test func restoresTheEngineRecordThenTheCacheAndSavesWhatWasGained() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = AutotuneStore(directory: folder)
        let tuner = FakeTuner()
        #expect(store.save(tuner.identity.merging(["matmul bf16 m1 n8 k8": "cache", "matmul bf16 m2 n8 k8": "cache"]) { $1 }))
        let engineRecord = tuner.identity.merging(["matmul bf16 m1 n8 k8": "engine", "matmul bf16 m4 n8 k8": "engine"]) { $1 }

        let session = AutotuneSession(holder: tuner, store: store, engineRecord: engineRecord)
        #expect(session.restoredFromEngine == 2 && session.restoredFromCache == 2)
        #expect(tuner.restores.first == engineRecord)  // the engine's record first
        // The cache file came second: where both name a key, its choice is the one kept.
        #expect(tuner.choices == ["matmul bf16 m1 n8 k8": "cache", "matmul bf16 m2 n8 k8": "cache", "matmul bf16 m4 n8 k8": "engine"])

        // The engine's own key was not in the file: it is saved there.
        #expect(session.save())
        tuner.tune("matmul bf16 m8 n8 k8")
        #expect(session.save())
        #expect(!session.save())  // nothing new since
        let stored = store.load(device: tuner.identity["device"]!, cublasLt: tuner.identity["cublasLt"]!)
        #expect(stored == tuner.autotuneRecord())

        // The next run restores all of it and, tuning nothing, writes nothing.
        let next = FakeTuner()
        let again = AutotuneSession(holder: next, store: store)
        #expect(again.restoredFromEngine == 0 && again.restoredFromCache == 4)
        #expect(next.restores.count == 1)  // no engine record: only the cache's
        #expect(next.choices == tuner.choices)
        #expect(!again.save())
    }

    @Test func aRunThatTunesNothingLeavesTheCacheAlone() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let session = AutotuneSession(holder: FakeTuner(), store: AutotuneStore(directory: folder + "/kernels"))
        #expect(session.restoredFromCache == 0)
        #expect(!session.save())
        #expect(!FileManager.default.fileExists(atPath: folder + "/kernels"))
    }

    @Test func aRecordOfAnotherGPUIsNotTaken() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let tuner = FakeTuner()
        let foreign = ["device": "NVIDIA A100", "cublasLt": "130100", "matmul bf16 m1 n8 k8": "a100"]
        let session = AutotuneSession(holder: tuner, store: AutotuneStore(directory: folder), engineRecord: foreign)
        #expect(session.restoredFromEngine == 0 && tuner.choices.isEmpty)
    }

    @Test func anUnwritableCacheDoesNotFailTheRun() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Data("x".utf8).write(to: URL(fileURLWithPath: folder + "/file"))
        let tuner = FakeTuner()
        let session = AutotuneSession(holder: tuner, store: AutotuneStore(directory: folder + "/file/kernels"))
        tuner.tune("matmul bf16 m1 n8 k8")
        #expect(!session.save())
        #expect(tuner.choices.count == 1)
    }
}
