import Foundation

/// A Hugging Face checkpoint made of one or more `.safetensors` shards. Opened from a directory
/// (`model.safetensors.index.json`, else `model.safetensors`, else every `*.safetensors` file in it),
/// a single `.safetensors` file, or an `*.index.json` file (its `weight_map` names each tensor's shard).
public final class SafetensorsCheckpoint: Sendable {
    /// What was opened (directory or file), used in error messages.
    public let path: String
    public let shards: [SafetensorsFile]
    private let location: [String: Int]   // tensor name -> shard index

    public init(path: String) throws(ModelFileError) {
        self.path = path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelFileError(path: path, message: "no such file or directory")
        }
        let (shards, location): ([SafetensorsFile], [String: Int])
        if isDir.boolValue {
            (shards, location) = try Self.openDirectory(path)
        } else if path.hasSuffix(".json") {
            (shards, location) = try Self.openIndex(path)
        } else {
            (shards, location) = try Self.openShards([path], indexPath: nil)
        }
        self.shards = shards
        self.location = location
    }

    /// All tensor names, sorted.
    public var tensorNames: [String] { location.keys.sorted() }

    public func tensorInfo(_ name: String) -> SafetensorsTensorInfo? {
        location[name].flatMap { shards[$0].tensorInfo(name) }
    }

    /// The tensor's entry and bytes, checked to exist and (if given) to have `shape`.
    public func requireTensor(_ name: String, shape: [Int]? = nil) throws(ModelFileError)
        -> (info: SafetensorsTensorInfo, bytes: UnsafeRawBufferPointer) {
        guard let i = location[name] else {
            throw ModelFileError(path: path, message: "missing tensor '\(name)'")
        }
        let info = try shards[i].requireTensor(name, shape: shape)
        return (info, shards[i].bytes(of: info))
    }

    private static func openDirectory(_ dir: String) throws(ModelFileError) -> ([SafetensorsFile], [String: Int]) {
        let fm = FileManager.default
        let index = (dir as NSString).appendingPathComponent("model.safetensors.index.json")
        if fm.fileExists(atPath: index) { return try openIndex(index) }
        let single = (dir as NSString).appendingPathComponent("model.safetensors")
        if fm.fileExists(atPath: single) { return try openShards([single], indexPath: nil) }
        let names = ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".safetensors") }.sorted()
        guard !names.isEmpty else {
            throw ModelFileError(path: dir, message: "no model.safetensors.index.json, model.safetensors or *.safetensors file")
        }
        return try openShards(names.map { (dir as NSString).appendingPathComponent($0) }, indexPath: nil)
    }

    /// `{"metadata": {...}, "weight_map": {tensor: shard file name}}`; shards live next to the index.
    private static func openIndex(_ indexPath: String) throws(ModelFileError) -> ([SafetensorsFile], [String: Int]) {
        func fault(_ m: String) -> ModelFileError { ModelFileError(path: indexPath, message: m) }
        let map = try readWeightMap(indexPath)
        let dir = (indexPath as NSString).deletingLastPathComponent
        var shardNames = Array(Set(map.values)).sorted()
        for name in shardNames where name.isEmpty || name.contains("/") || name == ".." {
            throw fault("weight_map names shard '\(name)', which is not a plain file name")
        }
        shardNames = shardNames.map { (dir as NSString).appendingPathComponent($0) }
        let (shards, found) = try openShards(shardNames, indexPath: indexPath)
        var location: [String: Int] = [:]
        for (tensor, shard) in map {
            let shardPath = (dir as NSString).appendingPathComponent(shard)
            guard let i = shards.firstIndex(where: { $0.path == shardPath }), shards[i].tensorInfo(tensor) != nil else {
                throw ModelFileError(path: shardPath, message: "missing tensor '\(tensor)' (listed for this shard in \(indexPath))")
            }
            location[tensor] = i
        }
        for (tensor, i) in found where location[tensor] == nil { location[tensor] = i }
        return (shards, location)
    }

    private static func readWeightMap(_ indexPath: String) throws(ModelFileError) -> [String: String] {
        func fault(_ m: String) -> ModelFileError { ModelFileError(path: indexPath, message: m) }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: indexPath)) } catch {
            throw fault("cannot read: \(error.localizedDescription)")
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw fault("bad JSON: \(error.localizedDescription)")
        }
        guard let root = object as? [String: Any], let raw = root["weight_map"] as? [String: Any] else {
            throw fault("bad index: expected an object with a \"weight_map\" object")
        }
        var map: [String: String] = [:]
        for (tensor, v) in raw {
            guard let s = v as? String else { throw fault("bad index: weight_map entry '\(tensor)' is not a string") }
            map[tensor] = s
        }
        return map
    }

    /// Opens each shard; a tensor name may appear in only one shard.
    private static func openShards(_ paths: [String], indexPath: String?) throws(ModelFileError)
        -> ([SafetensorsFile], [String: Int]) {
        var shards: [SafetensorsFile] = []
        var location: [String: Int] = [:]
        for p in paths {
            let f = try SafetensorsFile(path: p)
            for t in f.tensorInfos {
                if let other = location[t.name] {
                    throw ModelFileError(path: p, message: "tensor '\(t.name)' also appears in \(shards[other].path)")
                }
                location[t.name] = shards.count
            }
            shards.append(f)
        }
        return (shards, location)
    }
}
