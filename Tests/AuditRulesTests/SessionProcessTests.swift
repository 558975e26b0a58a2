import Foundation
import Testing
import TestSupport

/// The servers the differential tests start must never outlive them nor wait on a terminal:
/// `SessionProcess` checked against the kernel's own account of the child (/proc).
@Suite struct SessionProcessTests {
    static func spawn(_ script: String, in directory: URL) throws -> SessionProcess {
        try SessionProcess("/bin/bash", ["-c", script], environment: ["PATH": "/usr/bin:/bin"],
                           stdout: directory.appendingPathComponent("stdout"), stderr: directory.appendingPathComponent("stderr"))
    }

    /// "Name:\tvalue" lines of /proc/PID/status.
    static func status(_ pid: pid_t) -> [String: String] {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return fields
    }

    @Test("a session leader with nothing blocked, nothing ignored, only its three standard descriptors, no terminal")
    func startsClean() throws {
        let directory = try TestTools.temporaryDirectory("session")
        defer { try? FileManager.default.removeItem(at: directory) }
        // A descriptor of ours without close-on-exec, which the child must not get.
        var leak: [Int32] = [-1, -1]
        #expect(pipe(&leak) == 0)
        defer { close(leak[0]); close(leak[1]) }
        let process = try Self.spawn("exec 3</dev/tty && echo has-a-terminal; exec sleep 30", in: directory)
        defer { process.stop(grace: 5) }
        var fields: [String: String] = [:]
        for _ in 0..<200 {
            fields = Self.status(process.pid)
            if fields["Name"] == "sleep" { break }
            usleep(10_000)
        }
        try #require(fields["Name"] == "sleep", "the child did not reach sleep: \(fields)")
        // Signals 1–31 (bit N-1); 32 and up include glibc's own, which no spawn attribute resets.
        func standard(_ mask: String?) -> UInt64? { mask.flatMap { UInt64($0, radix: 16) }.map { $0 & 0x7FFF_FFFF } }
        #expect(standard(fields["SigBlk"]) == 0, "blocked signals: \(fields["SigBlk"] ?? "?")")
        #expect(standard(fields["SigIgn"]) == 0, "ignored signals: \(fields["SigIgn"] ?? "?")")
        #expect(fields["NSsid"] == String(process.pid) && fields["NSpgid"] == String(process.pid), "\(fields)")
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.pid)/fd").sorted()
        #expect(descriptors == ["0", "1", "2"])
        let input = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(process.pid)/fd/0")
        #expect(input == "/dev/null")
        let output = try String(contentsOf: directory.appendingPathComponent("stdout"), encoding: .utf8)
        let errors = try String(contentsOf: directory.appendingPathComponent("stderr"), encoding: .utf8)
        #expect(!output.contains("has-a-terminal") && errors.contains("/dev/tty"), "opening /dev/tty: \(output) \(errors)")
        let started = Date()
        process.stop(grace: 5)
        #expect(Date().timeIntervalSince(started) < 2, "sleep ignores nothing, so SIGTERM alone ends it")
        #expect(process.exitStatus() == 128 + SIGTERM && !process.groupExists)
    }

    @Test("a leader that ignores SIGTERM and leaves children behind is killed with all of them")
    func stopsTheWholeGroup() throws {
        let directory = try TestTools.temporaryDirectory("session")
        defer { try? FileManager.default.removeItem(at: directory) }
        let children = directory.appendingPathComponent("children")
        let process = try Self.spawn("trap '' TERM; sleep 300 & echo $! > \(children.path).tmp; sleep 300 & echo $! >> \(children.path).tmp; "
                                     + "mv \(children.path).tmp \(children.path); wait", in: directory)
        defer { process.stop(grace: 5) }
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: children.path) { usleep(10_000) }
        let pids = try String(contentsOf: children, encoding: .utf8).split(separator: "\n").compactMap { pid_t($0) }
        try #require(pids.count == 2)
        #expect(Set(process.liveMembers) == Set(pids + [process.pid]))
        let started = Date()
        process.stop(grace: 1)
        let took = Date().timeIntervalSince(started)
        #expect(took >= 1 && took < 3, "SIGTERM is ignored, so the group ends at SIGKILL after the grace: \(took) s")
        #expect(process.exitStatus() == 128 + SIGKILL)
        #expect(process.liveMembers.isEmpty && !process.groupExists)
        for pid in pids { #expect(Self.status(pid)["State"].map { $0.hasPrefix("Z") } ?? true, "child \(pid) still runs") }
    }
}
