public import Tensor
/// One tensor's descriptor. `dims` are in ggml order: `dims[0]` (ne0) is the row length (innermost).
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    public let dims: [Int]
    public let type: GGMLType
    /// Byte offset relative to the data section (`GGUFFile.dataOffset`).
    public let offset: Int
    public let byteCount: Int

    public init(name: String, dims: [Int], type: GGMLType, offset: Int, byteCount: Int) {
        self.name = name
        self.dims = dims
        self.type = type
        self.offset = offset
        self.byteCount = byteCount
    }

    public var elementCount: Int { dims.reduce(1, *) }
}

/// A memory-mapped GGUF v2/v3 file: metadata, tensor descriptors and zero-copy views of tensor data.
/// Everything is validated in `init`; afterwards every tensor's byte range is known to lie inside the file.
public final class GGUFFile: Sendable {
    public let path: String
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// In file order.
    public let tensorInfos: [GGUFTensorInfo]
    /// `general.alignment`, or 32.
    public let alignment: Int
    /// Absolute offset of the tensor data section (may equal or exceed the file size when there are no tensors).
    public let dataOffset: Int
    public let file: MappedFile
    private let tensorIndex: [String: Int]  // name -> index in tensorInfos

    public init(path: String) throws(ModelFileError) {
        let file = try MappedFile(path: path)
        var parser = GGUFParser(bytes: file.bytes, path: path)
        let layout = try parser.parse()
        self.path = path
        self.file = file
        version = layout.version
        metadata = layout.metadata
        tensorInfos = layout.tensorInfos
        alignment = layout.alignment
        dataOffset = layout.dataOffset
        var index: [String: Int] = [:]
        index.reserveCapacity(layout.tensorInfos.count)
        for (i, info) in layout.tensorInfos.enumerated() { index[info.name] = i }
        tensorIndex = index
    }

    public func tensorInfo(_ name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensorInfos[$0] }
    }

    /// The tensor's raw bytes, a view into the mapping (valid while this file is alive).
    public func tensorBytes(_ name: String) throws(ModelFileError) -> UnsafeRawBufferPointer {
        guard let info = tensorInfo(name) else { throw missing(name) }
        return bytes(of: info)
    }

    /// The raw bytes of a descriptor taken from this file (ranges were validated in init; a descriptor from
    /// elsewhere that does not fit traps instead of reading out of bounds).
    public func bytes(of info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        let start = dataOffset + info.offset
        precondition(info.offset >= 0 && info.byteCount >= 0 && start <= file.bytes.count - info.byteCount,
                     "\(path): tensor \(info.name) range is outside the file")
        return UnsafeRawBufferPointer(rebasing: file.bytes[start..<(start + info.byteCount)])
    }

    /// The tensor's descriptor, checked against an allowed type set and expected dims (ggml order).
    public func requireTensor(_ name: String, type allowed: Set<GGMLType>? = nil,
                              dims: [Int]? = nil) throws(ModelFileError) -> GGUFTensorInfo {
        guard let info = tensorInfo(name) else { throw missing(name) }
        if let allowed, !allowed.contains(info.type) {
            let expected = allowed.map(\.name).sorted().joined(separator: " or ")
            throw ModelFileError(path: path, message:
                "tensor \(name) has type \(info.type.name), expected \(expected)")
        }
        if let dims, dims != info.dims {
            throw ModelFileError(path: path, message:
                "tensor \(name) has shape \(info.dims), expected \(dims) (ggml order, row length first)")
        }
        return info
    }

    private func missing(_ name: String) -> ModelFileError {
        ModelFileError(path: path, message: "missing tensor \(name) (file has \(tensorInfos.count) tensors)")
    }
}
