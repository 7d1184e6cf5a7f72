/// Typed metadata accessors: nil when the key is missing or the value has the wrong kind.
/// Numeric accessors accept any integer or float GGUF type (`int` takes a float only if it is an exact integer).
extension GGUFFile {
    public var architecture: String? { string("general.architecture") }

    public func string(_ key: String) -> String? { metadata[key]?.stringValue }

    public func int(_ key: String) -> Int? { metadata[key]?.intValue }

    public func float(_ key: String) -> Float? { metadata[key]?.floatValue }

    public func bool(_ key: String) -> Bool? { metadata[key]?.boolValue }

    public func stringArray(_ key: String) -> [String]? {
        guard let array = metadata[key]?.arrayValue else { return nil }
        var result: [String] = []
        result.reserveCapacity(array.count)
        for value in array {
            guard case .string(let s) = value else { return nil }
            result.append(s)
        }
        return result
    }

    public func floatArray(_ key: String) -> [Float]? {
        guard let array = metadata[key]?.arrayValue else { return nil }
        var result: [Float] = []
        result.reserveCapacity(array.count)
        for value in array {
            guard let f = value.floatValue else { return nil }
            result.append(f)
        }
        return result
    }

    public func intArray(_ key: String) -> [Int]? {
        guard let array = metadata[key]?.arrayValue else { return nil }
        var result: [Int] = []
        result.reserveCapacity(array.count)
        for value in array {
            guard let i = value.intValue else { return nil }
            result.append(i)
        }
        return result
    }
}
