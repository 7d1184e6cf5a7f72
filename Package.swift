// swift-tools-version: 6.1
import PackageDescription

// Strict settings from the start (see ../shared/DESIGN.md, house rule 7).
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Swiftlet",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swiftlet", targets: ["swiftlet"]),
        .library(name: "SwiftletEngine", targets: ["Engine"]),
        // Module libraries, for Benchmarks/ (a package of its own) and for embedding.
        .library(name: "SwiftletTensor", targets: ["Tensor"]),
        .library(name: "SwiftletModel", targets: ["Model", "ModelFormats"]),
        .library(name: "SwiftletTokenizer", targets: ["Tokenizer"]),
        .library(name: "SwiftletScheduler", targets: ["Scheduler", "KVBlocks"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.70.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
    ],
    targets: [
        // OpenBLAS's headers (libopenblas-dev). Deliberately no pkgConfig/link: pkg-config's `-lopenblas` would
        // load the library at start-up, before OPENBLAS_CORETYPE can be chosen; CBLAS dlopens it instead.
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", providers: [.apt(["libopenblas-dev"])]),
        .target(name: "CBLAS", dependencies: ["COpenBLAS"], linkerSettings: [.linkedLibrary("dl")]),
        // Elementwise kernels in C, vectorised per ISA level with run-time dispatch (see CKernels.h).
        .target(name: "CKernels", dependencies: ["CBLAS"], cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "Tensor", dependencies: ["CBLAS", "CKernels"], swiftSettings: strict),
        .target(name: "ModelFormats", dependencies: ["Tensor"], swiftSettings: strict),
        .target(name: "Tokenizer", dependencies: ["ModelFormats"], swiftSettings: strict),
        // Constrained decoding: JSON schema / regex / GBNF / choice → grammar, token masks over a vocabulary.
        .target(name: "Constraints", swiftSettings: strict),
        .target(name: "Model", dependencies: ["Tensor", "ModelFormats"], swiftSettings: strict),
        .target(name: "KVBlocks", dependencies: [
            .product(name: "DequeModule", package: "swift-collections"),
        ], swiftSettings: strict),
        .target(name: "Scheduler", dependencies: [
            "KVBlocks",
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "HeapModule", package: "swift-collections"),
        ], swiftSettings: strict),
        .target(name: "Engine", dependencies: [
            "Scheduler", "KVBlocks", "Model", "Tokenizer", "Tensor", "ModelFormats", "Constraints",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: strict),
        .target(name: "OpenAIAPI", swiftSettings: strict),
        .target(name: "Server", dependencies: [
            "OpenAIAPI", "Engine", "Constraints",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "HummingbirdHTTP2", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ], swiftSettings: strict),
        .target(name: "Bench", dependencies: [
            "OpenAIAPI", "Tokenizer", "ModelFormats",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .target(name: "Cluster", dependencies: [
            "OpenAIAPI", "Server", "Engine", "Tokenizer", "ModelFormats",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
        ], swiftSettings: strict),
        // Discrete-event cluster simulation: the real Scheduler/KVBlocks and GlobalPlanner on a fitted step-time model.
        .target(name: "Simulator", dependencies: [
            "Scheduler", "KVBlocks", "Cluster", "Bench",
            .product(name: "HeapModule", package: "swift-collections"),
        ], swiftSettings: strict),
        .executableTarget(name: "swiftlet", dependencies: [
            "Model", "Tokenizer", "Tensor", "Engine", "Server", "OpenAIAPI", "Scheduler", "Bench", "Cluster", "Simulator",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], swiftSettings: strict),

        .testTarget(name: "TensorTests", dependencies: ["Tensor"], swiftSettings: strict),
        .testTarget(name: "ModelFormatsTests", dependencies: ["ModelFormats", "Tensor"], swiftSettings: strict),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "ModelFormats"],
                    resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(name: "ModelTests", dependencies: ["Model", "Tokenizer", "Tensor"],
                    resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(name: "EngineTests", dependencies: [
            "Engine", "Model", "Tokenizer", "Scheduler", "Constraints",
            .product(name: "PropertyBased", package: "swift-property-based"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], swiftSettings: strict),
        .testTarget(name: "ConstraintsTests", dependencies: ["Constraints"], swiftSettings: strict),
        .testTarget(name: "OpenAIAPITests", dependencies: ["OpenAIAPI"], swiftSettings: strict),
        .testTarget(name: "ServerTests", dependencies: [
            "Server", "Engine", "OpenAIAPI",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: strict),
        .testTarget(name: "BenchTests", dependencies: [
            "Bench", "Server", "Engine", "OpenAIAPI", "Tokenizer",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: strict),
        .testTarget(name: "ClusterTests", dependencies: [
            "Cluster", "Server", "Engine", "OpenAIAPI", "Constraints",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: strict),
        .testTarget(name: "SimulatorTests", dependencies: [
            "Simulator", "Scheduler", "KVBlocks", "Cluster", "Bench", "Engine", "Model", "Tokenizer",
            .product(name: "Metrics", package: "swift-metrics"),
        ], swiftSettings: strict),
        .testTarget(name: "KVBlocksTests", dependencies: [
            "KVBlocks", .product(name: "PropertyBased", package: "swift-property-based"),
        ], swiftSettings: strict),
        .testTarget(name: "SchedulerTests", dependencies: [
            "Scheduler", "KVBlocks", .product(name: "PropertyBased", package: "swift-property-based"),
        ], swiftSettings: strict),
    ]
)
