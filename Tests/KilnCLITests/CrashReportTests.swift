import Foundation
import Testing

/// A crash names where it happened: release builds drop a Swift trap's message, so `kiln` prints
/// its return addresses (CrashBacktrace.swift) and dies with the same signal.
#if os(Linux)
@Suite struct CrashReportTests {
    @Test func aTrapPrintsReturnAddressesAndKeepsItsSignal() throws {
        // A CPU run long enough to be interrupted: random Gemma-2B weights take seconds to make.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: KilnProcess.binary)
        process.arguments = ["bench", "latency", "--random-weights", "gemma-2b", "--backend", "cpu", "--input", "4", "--output", "2"]
        let error = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = error
        try process.run()
        Thread.sleep(forTimeInterval: 1.5)
        kill(process.processIdentifier, SIGILL)  // what a Swift trap raises on x86-64 Linux
        let text = String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(process.terminationStatus == SIGILL)
        #expect(text.contains("kiln: crashed (signal \(SIGILL)); return addresses:"))
        // Frames of the binary as offsets for addr2line (how many depends on the thread the signal
        // lands on: a kill reaches any thread, a trap the one that ran it).
        let frames = text.split(separator: "\n").filter { $0.contains("kiln(+0x") || $0.contains("kiln($") }
        #expect(!frames.isEmpty, "frames of the binary: \(text.prefix(600))")
    }
}
#endif
