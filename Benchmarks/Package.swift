// swift-tools-version: 6.1
import PackageDescription

// Swiftlet's benchmarks: a package of its own so the main package's build and tests stay lean.
// Run with `swift package benchmark` from this directory (see README.md).

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "SwiftletBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        // MallocInterposer only: the RuntimeInterposer default trait pulls in a package we do not mirror.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Shared helpers: model paths, rate metrics, a seeded RNG.
        .target(name: "BenchSupport", dependencies: [.product(name: "Benchmark", package: "benchmark")],
                swiftSettings: strict),
        suite("KernelsBench", ["SwiftletTensor"]),
        suite("TokenizerBench", ["SwiftletTokenizer", "SwiftletModel"]),
        suite("ForwardBench", ["SwiftletModel", "SwiftletTensor"]),
        suite("SchedulerBench", ["SwiftletScheduler"]),
        suite("EngineBench", ["SwiftletEngine", "SwiftletScheduler"]),
    ]
)

/// One benchmark executable: Benchmarks/<name>/<name>.swift, driven by the benchmark plugin. Suites end in
/// "Bench" because module names must differ from the main package's (Tokenizer, Scheduler, Engine).
func suite(_ name: String, _ products: [String]) -> Target {
    .executableTarget(
        name: name,
        dependencies: ["BenchSupport", .product(name: "Benchmark", package: "benchmark")]
            + products.map { .product(name: $0, package: "main") },
        path: "Benchmarks/\(name)",
        swiftSettings: strict,
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
}
