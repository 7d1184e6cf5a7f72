import ArgumentParser

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the OpenAI-compatible HTTP API.")
    func run() async throws { throw ValidationError("serve: not wired yet") }
}
