import Foundation
import Testing

/// A crash names where it happened: release builds drop a Swift trap's message, so `kiln` prints
/// its return addresses (CrashBacktrace.swift) and dies with the same signal.
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
        #expect(text.contains("kiln(+0x"), "frames of the binary, as offsets for addr2line: \(text.prefix(400))")
    }
}
