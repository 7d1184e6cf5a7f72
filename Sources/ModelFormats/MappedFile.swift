import Foundation

/// A whole file mapped read-only (`PROT_READ`, `MAP_PRIVATE`); unmapped when the last reference goes.
/// An empty file maps to an empty buffer (no `mmap` call).
public final class MappedFile: @unchecked Sendable {
    public let path: String
    /// The file's bytes; valid for the lifetime of this object. Never written (the mapping is read-only).
    public let bytes: UnsafeRawBufferPointer

    public init(path: String) throws(ModelFileError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ModelFileError(path: path, message: "cannot open: \(Self.errnoText())") }
        defer { close(fd) }
        let size = try Self.regularFileSize(fd: fd, path: path)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw ModelFileError(path: path, message: "cannot mmap \(size) bytes: \(Self.errnoText())")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress, bytes.count > 0 {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }

    private static func regularFileSize(fd: Int32, path: String) throws(ModelFileError) -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ModelFileError(path: path, message: "cannot stat: \(errnoText())")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ModelFileError(path: path, message: "not a regular file")
        }
        guard info.st_size >= 0, let size = Int(exactly: info.st_size) else {
            throw ModelFileError(path: path, message: "unusable file size \(info.st_size)")
        }
        return size
    }

    private static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}
