import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A server a test starts and must stop: spawned as the leader of a session of its own (no
/// controlling terminal, so nothing it runs can prompt on one; one process group, so one signal
/// reaches every child it forks), with /dev/null as standard input, files for its output, no
/// descriptor of the test process, default signal dispositions and an empty signal mask.
/// `stop()` ends the whole group; call it in a `defer`.
public final class SessionProcess: @unchecked Sendable {
    /// The leader's process id, which is also the id of its session and process group.
    public let pid: pid_t
    private let lock = NSLock()
    private var exitCode: Int32?

    /// glibc's POSIX_SPAWN_SETSID (spawn.h, a GNU extension Swift's Glibc module does not import).
    private static let setsidFlag: Int32 = 0x80

    /// Starts `program` (a full path) with exactly `environment`; its output goes to the two files.
    public init(_ program: String, _ arguments: [String], environment: [String: String], stdout: URL, stderr: URL) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // A descriptor of the test process held by the server (another test's pipe, say) would
        // keep whoever reads that pipe waiting until the server ends.
        Self.closeInherited(&actions)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Threads of the test process block signals; a server inheriting that mask would never
        // see the SIGTERM that asks it to stop.
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(Self.setsidFlag | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, program, &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw SpawnFailure(program: program, reason: String(cString: strerror(spawned))) }
        pid = child
    }

    /// Closes every descriptor above standard error in the child: with glibc's
    /// `posix_spawn_file_actions_addclosefrom_np` (2.34+, looked up because Swift does not
    /// import it), else one close action per descriptor open now.
    private static func closeInherited(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") { // nil: glibc's RTLD_DEFAULT
            let closeFrom = unsafeBitCast(symbol, to: CloseFrom.self)
            if closeFrom(&actions, 3) == 0 { return }
        }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap({ Int32($0) }) where fd > 2 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
    }

    /// The leader's exit code once it has ended (it is reaped here; 128+N for signal N), nil
    /// while it runs.
    public func exitStatus() -> Int32? {
        lock.lock(); defer { lock.unlock() }
        if let exitCode { return exitCode }
        var status: Int32 = 0
        let reaped = waitpid(pid, &status, WNOHANG)
        if reaped == pid {
            // WIFEXITED/WEXITSTATUS are macros: the code sits in bits 8–15 when the low 7 bits are 0.
            exitCode = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        } else if reaped < 0 && errno == ECHILD {
            exitCode = -1
        }
        return exitCode
    }

    /// The live processes of the group: the leader and any child it forked, zombies excluded (an
    /// orphan's zombie waits for init to reap it, which some container inits never do).
    public var liveMembers: [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let member = pid_t(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            // After "pid (comm) ": state, ppid, pgrp.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, pid_t(fields[2]) == pid, fields[0] != "Z", fields[0] != "X" else { return nil }
            return member
        }
    }

    /// Whether any process of the group (the leader, or a child it left behind) still runs.
    public var groupExists: Bool { (kill(-pid, 0) == 0 || errno == EPERM) && !liveMembers.isEmpty }

    /// SIGTERM to the whole group, up to `grace` seconds for every member to end, then SIGKILL
    /// to the group; returns when the leader has been reaped and the group is empty (or after
    /// another `grace` seconds, for a member stuck where even SIGKILL waits).
    public func stop(grace: TimeInterval = 5) {
        if exitStatus() == nil || groupExists { kill(-pid, SIGTERM) }
        if waitForGroup(grace) { return }
        kill(-pid, SIGKILL)
        _ = waitForGroup(grace)
    }

    private func waitForGroup(_ seconds: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if exitStatus() != nil && !groupExists { return true }
            usleep(10_000)
        }
        return false
    }
}

/// `posix_spawn` refused to start a program.
public struct SpawnFailure: Error, CustomStringConvertible {
    public var program: String
    public var reason: String
    public var description: String { "cannot start \(program): \(reason)" }
}
