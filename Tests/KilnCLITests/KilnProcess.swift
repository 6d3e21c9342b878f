import Foundation

/// Runs the built `kiln` binary (it sits beside the test bundle in the build folder), the way
/// a user or an outside checker does.
struct KilnProcess {
    struct Result {
        let status: Int32
        let standardOutput: String
        let standardError: String
    }

    /// `$KILN_BINARY` when set (scripts/test.sh points it at a release build, so real-model runs
    /// take seconds), else the debug `kiln` beside the test bundle.
    static var binary: String {
        if let explicit = ProcessInfo.processInfo.environment["KILN_BINARY"], !explicit.isEmpty { return explicit }
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // On Linux the test binary is `.../debug/KilnPackageTests.xctest`; on macOS it is inside a bundle.
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("kiln").path), directory.path != "/" {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("kiln").path
    }

    /// Runs `kiln arguments`, with `environment` added to this process's.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let outData = output.fileHandleForReading.readDataToEndOfFile()
        let errData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      standardOutput: String(decoding: outData, as: UTF8.self),
                      standardError: String(decoding: errData, as: UTF8.self))
    }

    /// `$KILN_MODELS/name` when set and present.
    static func model(_ name: String) -> String? {
        guard let directory = ProcessInfo.processInfo.environment["KILN_MODELS"] else { return nil }
        let path = directory + "/" + name
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }
}
