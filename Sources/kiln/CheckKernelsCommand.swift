import ArgumentParser
import Foundation
import KilnCore
import KilnCUDA

/// `kiln check kernels --arch sm_90a,sm_80`: compiles every kernel file with NVRTC for each
/// architecture (no GPU needed; CI runs it) and checks each file exports the kernels its
/// launchers name. `N passed, M failed` last; exit code 1 if any failed.
struct CheckKernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels", abstract: "Compile every CUDA kernel with NVRTC (no GPU needed).")

    @Option(help: "Comma-separated GPU architectures (sm_90a, sm_80, ...).")
    var arch = "sm_90a,sm_80"

    func run() throws {
        var failures = 0
        try reportingErrors {
            let architectures = arch.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !architectures.isEmpty, architectures.allSatisfy({ $0.hasPrefix("sm_") }) else {
                throw KilnError.invalidArgument("--arch \(arch): expected real architectures such as sm_90a,sm_80")
            }
            let compiler = try NVRTCCompiler()
            print("NVRTC \(compiler.versionText) (\(compiler.library.path))")
            var passed = 0, failed = 0
            for architecture in architectures {
                for source in KernelLibrary.sources {
                    let label = "\(source.fileName.padding(toLength: 16, withPad: " ", startingAt: 0)) \(architecture.padding(toLength: 7, withPad: " ", startingAt: 0))"
                    let start = Date()
                    do {
                        let cubin = try compiler.compile(source: source.text, fileName: source.fileName, headers: KernelLibrary.headers,
                                                         options: KernelLibrary.options(architecture: architecture))
                        let missing = source.kernels.filter { cubin.firstRange(of: Array($0.utf8) + [0]) == nil }
                        if missing.isEmpty {
                            passed += 1
                            print("PASS  \(label) \(source.kernels.count) kernels, \(DeviceAllocator.bytesText(cubin.count)) CUBIN, "
                                  + String(format: "%.2f s", Date().timeIntervalSince(start)))
                        } else {
                            failed += 1
                            print("FAIL  \(label) missing kernels: \(missing.joined(separator: ", "))")
                        }
                    } catch {
                        failed += 1
                        print("FAIL  \(label) \(error)")
                    }
                }
            }
            print("\(passed) passed, \(failed) failed")
            failures = failed
        }
        if failures > 0 { throw ExitCode(1) }
    }
}
