import Foundation

/// Temporary files and the optional real-model directory for tests.
enum TestFiles {
    /// A fresh temporary directory.
    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "kiln-tests-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Writes `bytes` to a new temporary file and returns its path.
    static func write(_ bytes: [UInt8], name: String = "file.bin") -> String {
        let path = temporaryDirectory() + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    /// `$KILN_MODELS/name` when the variable is set and the file exists (real-model tests).
    static func model(_ name: String) -> String? {
        guard let directory = ProcessInfo.processInfo.environment["KILN_MODELS"] else { return nil }
        let path = directory + "/" + name
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }
}
