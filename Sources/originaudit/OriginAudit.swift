import ArgumentParser
import CShim
import Foundation
import OriginAuditCore

/// The process's entry point: runs `OriginAudit.main()` on a task and waits for it. Swift's own
/// asynchronous entry point ends the main thread with pthread_exit (Dispatch's dispatch_main),
/// and that exit unwinds the thread's stack through the binary's unwind tables, which mapped
/// ~1 MB of them (.eh_frame_hdr, .eh_frame) into every run for nothing.
@main
enum Entry {
    static func main() {
        let finished = DispatchSemaphore(value: 0)
        Task.detached {
            await OriginAudit.main()
            finished.signal()
        }
        finished.wait()
    }
}

/// The command-line entry point: parses options, calls the libraries, maps results to exit codes
/// (0: nothing at or above --fail-on; 1: findings at or above it; 2: usage error or nothing to analyse).
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
/// file is replaced atomically (the pieces go into a temporary file beside it, renamed over it
/// once whole); anything else is written as the pieces come.
func emit(to output: String?, _ produce: (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
    if let output {
        // A regular file is replaced atomically; anything else (/dev/null, a FIFO, /dev/stdout)
        // is written in place — renaming a temporary file over /dev/null would replace the device.
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory)
        let regular = !exists || (try? FileManager.default.attributesOfItem(atPath: output)[.type] as? FileAttributeType) == .typeRegular
        do {
            if regular {
                try AtomicFile.write(output, produce)
            } else {
                guard let handle = FileHandle(forWritingAtPath: output) else { throw UsageFailure("--output \(output): cannot be opened for writing") }
                defer { try? handle.close() }
                try produce { try handle.write(contentsOf: unCopied($0)) }
            }
        } catch let failure as UsageFailure {
            throw failure
        } catch {
            throw UsageFailure("--output \(output): \(error.localizedDescription)")
        }
    } else {
        try produce { FileHandle.standardOutput.write(unCopied($0)) }
    }
}

/// The bytes of a piece as `Data` for a write that returns before the piece goes, without
/// copying them (a 46 MB report was copied piece by piece into fresh memory only to be written).
private func unCopied(_ piece: UnsafeRawBufferPointer) -> Data {
    guard let base = piece.baseAddress, piece.count > 0 else { return Data() }
    return Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: piece.count, deallocator: .none)
}

/// A regular file replaced whole or not at all, written piece by piece: a report of 50,000
/// findings (46-60 MB) is never gathered in memory before it is written.
enum AtomicFile {
    /// Writes what `produce` hands its sink into a new temporary file in `path`'s directory and
    /// renames it over `path` once complete; on any failure the temporary file is removed and
    /// `path` is left as it was. The file gets the mode of the file it replaces, or 0666 less
    /// the umask (what an atomic `Data.write` gives).
    static func write(_ path: String, _ produce: (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var template = Array((directory + "/." + url.lastPathComponent + ".XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw failure(path, "cannot be created", errno) }
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var open = true, renamed = false
        defer {
            if open { close(descriptor) }
            if !renamed { unlink(temporary) }
        }
        var existing = stat()
        let mode: mode_t
        if stat(path, &existing) == 0 {
            mode = existing.st_mode & 0o7777
        } else {
            let mask = umask(0o022)
            umask(mask)
            mode = 0o666 & ~mask
        }
        guard fchmod(descriptor, mode) == 0 else { throw failure(path, "cannot be written", errno) }
        try produce { piece in
            var offset = 0
            while offset < piece.count {
                let written = Glibc.write(descriptor, piece.baseAddress! + offset, piece.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw failure(path, "cannot be written", errno)
                }
                offset += written
            }
        }
        open = false
        guard close(descriptor) == 0 else { throw failure(path, "cannot be written", errno) }
        guard rename(temporary, path) == 0 else { throw failure(path, "cannot be replaced", errno) }
        renamed = true
    }

    private static func failure(_ path: String, _ what: String, _ code: Int32) -> UsageFailure {
        UsageFailure("--output \(path): \(what): \(String(cString: strerror(code)))")
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
