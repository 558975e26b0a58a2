import Foundation
import OriginAuditCore

/// Runs a program and captures its output; for tests that use real tools as oracles.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

public enum TestTools {
    /// Runs `executable` with `arguments`, optional stdin, bounded by `timeout` seconds.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], stdin: String? = nil,
                           environment: [String: String]? = nil, currentDirectory: String? = nil,
                           timeout: TimeInterval = 60) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : try which(executable))
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let outPipe = Pipe(), errPipe = Pipe(), inPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = inPipe
        try process.run()
        if let stdin { inPipe.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? inPipe.fileHandleForWriting.close()
        let output = OutputCollector()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { output.setOut(outPipe.fileHandleForReading.readDataToEndOfFile()); group.leave() }
        group.enter()
        DispatchQueue.global().async { output.setErr(errPipe.fileHandleForReading.readDataToEndOfFile()); group.leave() }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(2_000) }
        if process.isRunning { process.terminate(); usleep(100_000); if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        process.waitUntilExit()
        group.wait()
        return ProcessResult(status: process.terminationStatus, stdout: output.out, stderr: output.err)
    }

    /// The full path of a program on PATH (or in the sbin directories), or an error naming it.
    public static func which(_ name: String) throws -> String {
        if let path = locate(name) { return path }
        throw ToolMissing(name: name)
    }

    public static func locate(_ name: String) -> String? { Executables.locate(name) }

    public static var isRoot: Bool { getuid() == 0 }

    /// A fresh temporary directory, removed by the caller with `removeItem` when done.
    public static func temporaryDirectory(_ prefix: String = "originaudit-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The repository checkout, found from this file's own path.
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}

public struct ToolMissing: Error, CustomStringConvertible {
    public var name: String
    public var description: String { "\(name) is not installed; run Scripts/test, which installs the tools the tests use" }
}

private final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var outData = Data(), errData = Data()
    func setOut(_ data: Data) { lock.lock(); outData = data; lock.unlock() }
    func setErr(_ data: Data) { lock.lock(); errData = data; lock.unlock() }
    var out: String { lock.lock(); defer { lock.unlock() }; return String(decoding: outData, as: UTF8.self) }
    var err: String { lock.lock(); defer { lock.unlock() }; return String(decoding: errData, as: UTF8.self) }
}

/// A small deterministic generator (SplitMix64): a random test or a fuzz run is replayed from its seed.
public struct SplitMix: RandomNumberGenerator {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
