#if canImport(Glibc)
import Glibc

// glibc's execinfo functions (declared here: Swift's Glibc module does not export execinfo.h).
@_silgen_name("backtrace")
private func glibcBacktrace(_ buffer: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ size: Int32) -> Int32
@_silgen_name("backtrace_symbols_fd")
private func glibcBacktraceSymbols(_ buffer: UnsafePointer<UnsafeMutableRawPointer?>, _ size: Int32, _ fd: Int32)

/// On a crash (a Swift trap is SIGILL or SIGTRAP on Linux; release builds drop the trap's
/// message), prints the return addresses of the crashing thread to standard error before dying
/// with the same signal, so that a crash on a machine without a debugger can be located:
/// `addr2line -f -C -e <unstripped kiln> <offsets>` on the build machine (scripts/build-gpu-binary.sh
/// keeps the unstripped binary of a GPU build in .gpu-symbols/). The handler runs on an alternate
/// stack (a stack overflow of the main thread is reported too), once (SA_RESETHAND: a crash inside
/// it ends the process with the default action), and allocates nothing.
enum CrashBacktrace {
    static let depth: Int32 = 64
    static let alternateStackBytes = 64 * 1024
    /// Made at install, so that the handler allocates nothing (the crash may be inside malloc).
    nonisolated(unsafe) static let frames = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: Int(depth))

    static func install() {
        _ = glibcBacktrace(frames, 1)  // loads the unwinder now, not in the handler
        var stack = stack_t()
        stack.ss_sp = UnsafeMutableRawPointer.allocate(byteCount: alternateStackBytes, alignment: 16)
        stack.ss_size = alternateStackBytes
        _ = sigaltstack(&stack, nil)
        for signalNumber in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGFPE, SIGABRT] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { received in
                // "kiln: crashed (signal N); return addresses:" from static text and the digits of N.
                var digits: (UInt8, UInt8, UInt8) = (48, 48, 48)
                digits.0 = UInt8(48 + received / 100 % 10)
                digits.1 = UInt8(48 + received / 10 % 10)
                digits.2 = UInt8(48 + received % 10)
                let skip = received >= 100 ? 0 : received >= 10 ? 1 : 2
                _ = write(2, "kiln: crashed (signal ", 22)
                withUnsafeBytes(of: &digits) { _ = write(2, $0.baseAddress! + skip, 3 - skip) }
                _ = write(2, "); return addresses:\n", 21)
                let count = glibcBacktrace(CrashBacktrace.frames, CrashBacktrace.depth)
                glibcBacktraceSymbols(CrashBacktrace.frames, count, 2)
                raise(received)  // the default action again (SA_RESETHAND), delivered on return
            }
            action.sa_flags = Int32(SA_ONSTACK) | Int32(bitPattern: UInt32(SA_RESETHAND))
            sigemptyset(&action.sa_mask)
            _ = sigaction(signalNumber, &action, nil)
        }
    }
}
#else
enum CrashBacktrace {
    static func install() {}
}
#endif
