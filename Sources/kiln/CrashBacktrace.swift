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
/// `addr2line -f -C -e <unstripped kiln> <offsets>` on the build machine.
enum CrashBacktrace {
    static func install() {
        for signalNumber in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGFPE, SIGABRT] {
            signal(signalNumber) { received in
                let header = "kiln: crashed (signal \(received)); return addresses:\n"
                _ = header.withCString { write(2, $0, strlen($0)) }
                let frames = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 64)
                let count = glibcBacktrace(frames, 64)
                glibcBacktraceSymbols(frames, count, 2)
                signal(received, SIG_DFL)
                raise(received)
            }
        }
    }
}
#else
enum CrashBacktrace {
    static func install() {}
}
#endif
