import ArgumentParser
import Foundation
import KilnCore

/// Runs `body`, turning a `KilnError` into one line on stderr ("kiln: error: ...") and exit
/// code 1, as every command should fail: no stack trace, no crash.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as KilnError {
        printError("kiln: error: \(error.description)")
        throw ExitCode(1)
    }
}

/// Writes one line to stderr.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
