import ArgumentParser

/// The `kiln` command: one binary for building, inspecting, tokenizing and (later) serving models.
@main
struct Kiln: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "An LLM inference engine and server for NVIDIA GPUs, with a CPU reference backend.",
        subcommands: [BuildCommand.self, GenerateCommand.self, InspectCommand.self, TokenizeCommand.self, BenchCommand.self, CheckCommand.self])

    static func main() async {
        CrashBacktrace.install()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
