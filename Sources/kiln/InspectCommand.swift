import ArgumentParser
import Foundation
import KilnCore
import KilnFormats

/// `kiln inspect MODEL`: architecture, parameter count, storage types, context, memory needs.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Describe a checkpoint (GGUF file or Hugging Face directory).")

    @Argument(help: "A .gguf file or a Hugging Face model directory.")
    var model: String

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Flag(help: "Also list every metadata key (GGUF) and tensor.")
    var verbose = false

    func run() throws {
        try reportingErrors {
            let checkpoint = try Checkpoint.open(model)
            let summary = try CheckpointSummary(checkpoint: checkpoint)
            if json {
                print(try InspectReport.json(summary))
            } else {
                print(InspectReport.table(summary))
                if verbose { print(InspectReport.details(checkpoint)) }
            }
        }
    }
}
