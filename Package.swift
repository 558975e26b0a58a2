// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "originaudit",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "originaudit", targets: ["originaudit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        // Rules/ (catalog, CDN data, trust anchors) is compiled into the binary by this tool + plugin;
        // the tool decodes the rule descriptions and CDN profiles, so that a run decodes no YAML.
        .executableTarget(name: "RulesEmbedder", dependencies: [.product(name: "Yams", package: "Yams")], path: "Sources/RulesEmbedder"),
        .plugin(name: "EmbedRules", capability: .buildTool(), dependencies: ["RulesEmbedder"]),

        .target(
            name: "OriginAuditCore",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: strict,
            plugins: ["EmbedRules"]
        ),
        .target(name: "Firewall", dependencies: ["OriginAuditCore"], swiftSettings: strict),
        .target(name: "WebServer", dependencies: ["OriginAuditCore"], swiftSettings: strict),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(name: "CShim", dependencies: ["COpenSSL"]),
        .target(name: "Certificates", dependencies: ["OriginAuditCore", "COpenSSL", "CShim"], swiftSettings: strict),
        .target(name: "Probe", dependencies: ["OriginAuditCore", "COpenSSL", "Certificates"], swiftSettings: strict),
        .target(
            name: "AuditRules",
            dependencies: ["OriginAuditCore", "Firewall", "WebServer", "Certificates"],
            swiftSettings: strict
        ),
        .target(
            name: "Audit",
            dependencies: ["OriginAuditCore", "Firewall", "WebServer", "Certificates", "AuditRules",
                           .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        .target(name: "Reporters", dependencies: ["OriginAuditCore", "Firewall"], swiftSettings: strict),
        // Packet captures (`evidence`): libpcap is loaded with dlopen when a capture is read.
        .target(name: "Evidence", dependencies: ["OriginAuditCore", "Firewall", "WebServer"], swiftSettings: strict),
        .executableTarget(
            name: "originaudit",
            dependencies: ["Audit", "Reporters", "OriginAuditCore", "Firewall", "Certificates", "Probe", "Evidence", "CShim",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),

        // Benchmarks (Scripts/bench-*): release-build executables that print figures.
        .executableTarget(name: "BenchNginx", dependencies: ["WebServer", "OriginAuditCore"], path: "Scripts/BenchNginx",
                          swiftSettings: strict),
        .executableTarget(name: "BenchCertificates", dependencies: ["Certificates", "OriginAuditCore", "AuditRules"],
                          path: "Scripts/BenchCertificates", swiftSettings: strict),
        .executableTarget(name: "BenchApache", dependencies: ["WebServer", "OriginAuditCore"], path: "Scripts/BenchApache",
                          swiftSettings: strict),
        // Scripts/fuzz: an in-process fuzzer, one target per parser, seeded from the test fixtures.
        .executableTarget(name: "Fuzz", dependencies: ["Audit", "Firewall", "WebServer", "Certificates", "OriginAuditCore", "TestSupport"],
                          path: "Scripts/Fuzz", swiftSettings: strict),
        // Scripts/realworld-firewall: real rulesets loaded into the kernel lab, probed, compared with the evaluator.
        .executableTarget(name: "RealWorldFirewall", dependencies: ["FirewallLab", "Firewall", "OriginAuditCore", "TestSupport"],
                          path: "Scripts/RealWorldFirewall", swiftSettings: strict),
        .executableTarget(name: "FirewallBench", dependencies: ["Firewall", "OriginAuditCore", "AuditRules"], path: "Scripts/FirewallBench", swiftSettings: strict),

        .target(name: "TestSupport", dependencies: ["OriginAuditCore"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(
            name: "OriginAuditCoreTests",
            dependencies: ["OriginAuditCore", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: strict
        ),
        // The kernel lab (network namespaces, real TCP probes), shared by the kernel truth suites and Scripts/realworld-firewall.
        .target(name: "FirewallLab", dependencies: ["Firewall", "OriginAuditCore", "TestSupport"], path: "Tests/FirewallLab", swiftSettings: strict),
        .testTarget(name: "FirewallTests", dependencies: ["Firewall", "FirewallLab", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "WebServerTests", dependencies: ["WebServer", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "CertificatesTests", dependencies: ["Certificates", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "AuditRulesTests", dependencies: ["AuditRules", "Audit", "TestSupport"], exclude: ["Fixtures", "Scenarios"], swiftSettings: strict),
        .testTarget(name: "ReportersTests", dependencies: ["Reporters", "Audit", "TestSupport"], exclude: ["Golden"], swiftSettings: strict),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
