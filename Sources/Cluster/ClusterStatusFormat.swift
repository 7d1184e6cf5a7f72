import Foundation

/// Renders `ClusterStatus` for `swiftlet cluster status`.
public enum ClusterStatusFormat {
    public static func table(_ s: ClusterStatus, lease: Double) -> String {
        var lines = ["INSTANCE             STATE     RUNNING WAITING ASSIGNED FREE/TOTAL BLOCKS  FREENESS  HEARTBEAT  ADDRESS"]
        for i in s.instances {
            let state = i.heartbeatAge >= lease ? "dead" : i.draining ? "draining" : "up"
            lines.append([pad(i.name, 20), pad(state, 9), pad("\(i.load.numRunning)", 7), pad("\(i.load.numWaiting)", 7),
                          pad("\(i.assigned)", 8), pad("\(i.load.numFreeBlocks)/\(i.load.numTotalBlocks)", 17),
                          pad(String(format: "%.1f", i.freeness), 9), pad(String(format: "%.1fs", i.heartbeatAge), 10),
                          i.address].joined(separator: " "))
        }
        if s.instances.isEmpty { lines.append("(no instances)") }
        lines.append("")
        let depth = s.queuedByPriority.map { "priority \($0.priority): \($0.count)" }.joined(separator: ", ")
        lines.append("queue: \(s.queued) queued\(depth.isEmpty ? "" : " (\(depth))"), \(s.assigned) assigned, \(s.done) done, \(s.failed) failed")
        return lines.joined(separator: "\n")
    }

    public static func json(_ s: ClusterStatus, lease: Double) -> String {
        let instances: [[String: Any]] = s.instances.map { i in
            ["name": i.name, "address": i.address, "alive": i.heartbeatAge < lease, "draining": i.draining,
             "heartbeat_age_s": i.heartbeatAge, "running": i.load.numRunning, "waiting": i.load.numWaiting,
             "assigned": i.assigned, "free_blocks": i.load.numFreeBlocks, "total_blocks": i.load.numTotalBlocks,
             "freeness": i.freeness, "capacity": i.load.capacity]
        }
        let obj: [String: Any] = [
            "instances": instances,
            "queued_by_priority": s.queuedByPriority.map { ["priority": $0.priority, "count": $0.count] },
            "queued": s.queued, "assigned": s.assigned, "done": s.done, "failed": s.failed,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
}
