import Foundation

/// `SWIFTLET_TRACE=1`: one stderr line per step of a request's path through the cluster (router enqueue and
/// rounds, instance wake-up, claim, first token, each append, router relay) with a CLOCK_MONOTONIC timestamp in
/// microseconds, so the lines of a router and an instance on one machine sort into one timeline
/// (`grep -h TRACE router.log instance.log | sort -k2 -n`). How the latency figures in issue 6 were taken apart.
let traceOn = ProcessInfo.processInfo.environment["SWIFTLET_TRACE"] != nil

func trace(_ s: @autoclosure () -> String) {
    guard traceOn else { return }
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    let us = Int(ts.tv_sec) * 1_000_000 + Int(ts.tv_nsec) / 1000
    FileHandle.standardError.write(Data("TRACE \(us) \(s())\n".utf8))
}
