import ArgumentParser

/// The `kiln` command: one binary for building, inspecting, tokenizing and (later) serving models.
@main
struct Kiln: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "An LLM inference engine and server for NVIDIA GPUs, with a CPU reference backend.",
        subcommands: [BuildCommand.self, GenerateCommand.self, InspectCommand.self, TokenizeCommand.self, BenchCommand.self, CheckCommand.self])

    /// ArgumentParser's entry point, after installing the crash report (CrashBacktrace.swift).
    static func main() async {
        CrashBacktrace.install()
        await main(nil)
    }
}
