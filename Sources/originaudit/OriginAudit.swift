import ArgumentParser
import CShim
import Foundation
import OriginAuditCore

/// The command-line entry point: parses options, calls the libraries, maps results to exit codes
/// (0: nothing at or above --fail-on; 1: findings at or above it; 2: usage error or nothing to analyse).
@main
struct OriginAudit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "originaudit",
        abstract: "Audit an origin server before and after it goes behind a CDN.",
        discussion: """
        Reads firewall dumps (iptables-save, ipset, nftables), nginx and Apache configuration and \
        certificate files, reasons over them together, and reports which visitor-facing failure \
        each problem will cause (Cloudflare 521, 522, 524, 525, 526, redirect loops, 403/503 storms).
        Exit codes: 0 no finding at or above --fail-on, 1 findings at or above it, 2 usage error or \
        nothing could be analysed.
        """,
        version: "\(ToolInfo.name) \(ToolInfo.version)",
        subcommands: [Scan.self, FirewallCommand.self, CertCommand.self, ProbeCommand.self, EvidenceCommand.self, Rules.self, Explain.self, Ranges.self],
        defaultSubcommand: Scan.self
    )

    /// Runs the command, with usage errors mapped to exit code 2 rather than the library's 64.
    static func main() async {
        // Blocks of 2 MiB or more (the big arrays of 50,000 rules, report pieces) get their own
        // mapping, given back when freed, instead of glibc raising that threshold as they are
        // freed and keeping them on its heap, where freed memory is rarely returned. Firewall
        // estate 75-81 -> 71 MB, bench-nginx tree 183-188 -> 175 MB, whole estate 170 -> 165 MB,
        // same time (128 KiB saved 3 MB more but cost 0.1 s of system time on the estate).
        // Capping malloc's arenas at one per core saved 2-10 MB more but made the certificate
        // and whole-estate scans 0.1-0.2 s slower (their loader threads wait on the arenas' locks).
        // A setting the user made (MALLOC_MMAP_THRESHOLD_, GLIBC_TUNABLES) wins.
        if getenv("GLIBC_TUNABLES") == nil && getenv("MALLOC_MMAP_THRESHOLD_") == nil {
            oa_set_mmap_threshold(2 * 1024 * 1024)
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .success || error is ExitCode {
                exit(withError: error)
            }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
    }
}

/// Writes text to a file or standard output.
func emit(_ text: String, to output: String?) throws {
    try emit(to: output) { try whole(text, to: $0) }
}

/// Hands `text` to `sink` in one piece.
func whole(_ text: String, to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
    var text = text
    try text.withUTF8 { try sink(UnsafeRawBufferPointer($0)) }
}

/// Writes what `produce` hands its sink, piece by piece, to a file or standard output: a regular
/// file is gathered and replaced atomically; anything else is written as the pieces come.
func emit(to output: String?, _ produce: (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
    if let output {
        // A regular file is replaced atomically; anything else (/dev/null, a FIFO, /dev/stdout)
        // is written in place — renaming a temporary file over /dev/null would replace the device.
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory)
        let regular = !exists || (try? FileManager.default.attributesOfItem(atPath: output)[.type] as? FileAttributeType) == .typeRegular
        do {
            if regular {
                var data = Data()
                try produce { data.append(contentsOf: $0) }
                try data.write(to: URL(fileURLWithPath: output), options: .atomic)
            } else {
                guard let handle = FileHandle(forWritingAtPath: output) else { throw UsageFailure("--output \(output): cannot be opened for writing") }
                defer { try? handle.close() }
                try produce { try handle.write(contentsOf: Data($0)) }
            }
        } catch let failure as UsageFailure {
            throw failure
        } catch {
            throw UsageFailure("--output \(output): \(error.localizedDescription)")
        }
    } else {
        try produce { FileHandle.standardOutput.write(Data($0)) }
    }
}

/// A usage problem found after parsing (an unreadable --config, an unknown CDN): exit code 2.
struct UsageFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Prints a usage problem and exits with 2.
func failUsage(_ message: String) -> Never {
    FileHandle.standardError.write(Data("originaudit: \(message)\n".utf8))
    Foundation.exit(2)
}
