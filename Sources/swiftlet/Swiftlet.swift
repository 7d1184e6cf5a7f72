import ArgumentParser

@main
struct Swiftlet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftlet",
        abstract: "Swiftlet: an LLM inference serving engine for CPU fleets.",
        subcommands: [Generate.self, Serve.self, Bench.self, Score.self, Instance.self, Router.self, ClusterCommand.self],
        defaultSubcommand: nil)
}
