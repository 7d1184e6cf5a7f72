/// A fault in a model file (or in the way a caller asked for its contents), naming the file and the fault.
/// `description` is `"<path>: <message>"`.
public struct ModelFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
