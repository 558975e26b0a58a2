import Foundation
import OriginAuditCore
import TestSupport
import Firewall

/// Two network namespaces joined by a veth pair: "origin" (address 10.99.0.1 / 2001:db8:ffff::1,
/// listeners on 22, 80, 443, 8080 unless told other ports; its side of the pair is `eth0` unless
/// told another name) and "cdn" (sources from 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and
/// 2001:db8:1::/48, 2001:db8:2::/48, plus any extra sources given). Rulesets are loaded into the
/// origin's namespace and real TCP connections classify what the kernel does. Used by the kernel
/// truth suites and by Scripts/realworld-firewall.
public final class KernelLab: @unchecked Sendable {
    public static let ports: [UInt16] = [22, 80, 443, 8080]
    public static let v4Sources = ["192.0.2.10", "192.0.2.130", "192.0.2.250", "198.51.100.7", "198.51.100.200", "203.0.113.5", "203.0.113.77", "203.0.113.200"]
    public static let v6Sources = ["2001:db8:1::10", "2001:db8:1::8000:1", "2001:db8:2::20"]
    public static let originV4 = "10.99.0.1"
    public static let originV6 = "2001:db8:ffff::1"
    public static let originMAC = "02:0a:00:00:00:01"
    public static let cdnMAC = "02:0a:00:00:00:02"

    /// Why the lab cannot run here, or nil when it can.
    public static let unavailableReason: String? =
        Oracle.missing(programs: ["ip", "iptables-restore", "ip6tables-restore", "nft", "ipset", "python3"], namespaces: true)

    public let origin: String
    public let cdn: String
    public let directory: URL
    /// The origin's interface facing the CDN namespace.
    public let publicName: String
    /// Ports the origin listens on.
    public let listening: [UInt16]
    /// Extra source addresses of the CDN namespace (beyond the documentation ranges).
    public let extraSources: [String]
    private var listener: SessionProcess?
    /// A third namespace behind the origin, reached through a veth named docker0 (172.17.0.2,
    /// listening on 80), for DNAT'd traffic as Docker publishes it.
    public private(set) var container: String?
    private var containerListener: SessionProcess?
    /// A fourth namespace on the origin's LAN side, reached through `enp2s0` (sources 198.18.0.0/24),
    /// for rulesets that tell the public interface (eth0) from the LAN.
    public private(set) var lan: String?
    public static let lanSources = ["198.18.0.10", "198.18.0.77"]
    public static let originLANMAC = "02:0a:00:00:01:01"
    public static let lanMAC = "02:0a:00:00:01:02"

    public init(publicName: String = "eth0", listening: [UInt16] = KernelLab.ports, extraSources: [String] = []) throws {
        self.publicName = publicName
        self.listening = listening
        self.extraSources = extraSources
        let tag = "\(getpid() % 100_000)-\(UInt32.random(in: 0...0xFFFF))"
        origin = "oa-fw-o-\(tag)"
        cdn = "oa-fw-c-\(tag)"
        directory = try TestTools.temporaryDirectory("originaudit-fwlab")
        try setUp()
    }

    deinit { tearDown() }

    @discardableResult
    public func sh(_ arguments: [String], stdin: String? = nil, timeout: TimeInterval = 20) throws -> ProcessResult {
        try TestTools.run(arguments[0], Array(arguments.dropFirst()), stdin: stdin, timeout: timeout)
    }

    public func must(_ arguments: [String], stdin: String? = nil) throws {
        let result = try sh(arguments, stdin: stdin)
        guard result.status == 0 else { throw LabError("\(arguments.joined(separator: " ")) failed: \(result.stderr)") }
    }

    public func inOrigin(_ arguments: [String], stdin: String? = nil, timeout: TimeInterval = 20) throws -> ProcessResult {
        try sh(["ip", "netns", "exec", origin] + arguments, stdin: stdin, timeout: timeout)
    }

    private func setUp() throws {
        let short = String(origin.suffix(8)).replacingOccurrences(of: "-", with: "")
        let a = "oo\(short)".prefix(15), b = "oc\(short)".prefix(15)
        try must(["ip", "netns", "add", origin])
        try must(["ip", "netns", "add", cdn])
        try must(["ip", "link", "add", String(a), "address", KernelLab.originMAC, "type", "veth", "peer", "name", String(b), "address", KernelLab.cdnMAC])
        try must(["ip", "link", "set", String(a), "netns", origin])
        try must(["ip", "link", "set", String(b), "netns", cdn])
        for (namespace, name, device) in [(origin, String(a), publicName), (cdn, String(b), "eth0")] {
            try must(["ip", "-n", namespace, "link", "set", name, "name", device])
            try must(["ip", "-n", namespace, "link", "set", device, "up"])
            try must(["ip", "-n", namespace, "link", "set", "lo", "up"])
            _ = try sh(["ip", "netns", "exec", namespace, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.\(device.replacingOccurrences(of: ".", with: "/")).rp_filter=0"])
        }
        // REJECT's ICMP errors must not be rate-limited away when many probes hit one rule at once.
        _ = try sh(["ip", "netns", "exec", origin, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0", "net.ipv4.icmp_msgs_per_sec=100000"])
        try must(["ip", "-n", origin, "addr", "add", "\(KernelLab.originV4)/32", "dev", publicName])
        try must(["ip", "-n", origin, "addr", "add", "\(KernelLab.originV6)/128", "dev", publicName, "nodad"])
        for prefix in ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"] { try must(["ip", "-n", origin, "route", "add", prefix, "dev", publicName]) }
        for prefix in ["2001:db8:1::/48", "2001:db8:2::/48"] { try must(["ip", "-n", origin, "-6", "route", "add", prefix, "dev", publicName]) }
        for source in KernelLab.v4Sources + extraSources.filter({ !$0.contains(":") }) {
            try must(["ip", "-n", cdn, "addr", "add", "\(source)/32", "dev", "eth0"])
            if !KernelLab.v4Sources.contains(source) { try must(["ip", "-n", origin, "route", "add", "\(source)/32", "dev", publicName]) }
            try must(["ip", "-n", origin, "neigh", "replace", source, "lladdr", KernelLab.cdnMAC, "dev", publicName, "nud", "permanent"])
        }
        for source in KernelLab.v6Sources {
            try must(["ip", "-n", cdn, "addr", "add", "\(source)/128", "dev", "eth0", "nodad"])
            try must(["ip", "-n", origin, "-6", "neigh", "replace", source, "lladdr", KernelLab.cdnMAC, "dev", publicName, "nud", "permanent"])
        }
        try must(["ip", "-n", cdn, "route", "add", "\(KernelLab.originV4)/32", "dev", "eth0"])
        try must(["ip", "-n", cdn, "-6", "route", "add", "\(KernelLab.originV6)/128", "dev", "eth0"])
        try must(["ip", "-n", cdn, "neigh", "replace", KernelLab.originV4, "lladdr", KernelLab.originMAC, "dev", "eth0", "nud", "permanent"])
        try must(["ip", "-n", cdn, "-6", "neigh", "replace", KernelLab.originV6, "lladdr", KernelLab.originMAC, "dev", "eth0", "nud", "permanent"])

        let listenerScript = directory.appendingPathComponent("listener.py")
        try """
        import os, socket, select, sys
        parent = os.getppid()
        socks = []
        for family, address in ((socket.AF_INET, '0.0.0.0'), (socket.AF_INET6, '::')):
            for port in map(int, sys.argv[2:]):
                s = socket.socket(family, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((address, port)); s.listen(512); s.setblocking(False); socks.append(s)
        open(sys.argv[1], 'w').write('ready')
        while os.getppid() == parent:  # exits when the test process is gone, even if it was killed
            readable, _, _ = select.select(socks, [], [], 1)
            for s in readable:
                try:
                    c, _ = s.accept(); c.close()
                except OSError:
                    pass
        """.write(to: listenerScript, atomically: true, encoding: .utf8)
        try """
        import socket, sys, json, threading, errno
        probes = json.loads(sys.argv[1]); timeout = float(sys.argv[2])
        results = [None] * len(probes)
        def run(i, source, destination, port):
            family = socket.AF_INET6 if ':' in destination else socket.AF_INET
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(timeout)
            try:
                s.bind((source, 0)); s.connect((destination, port)); results[i] = 'connected'
            except socket.timeout:
                results[i] = 'timeout'
            except ConnectionRefusedError:
                results[i] = 'refused'
            except OSError as e:
                results[i] = 'unreachable:' + errno.errorcode.get(e.errno, str(e.errno))
            finally:
                s.close()
        threads = [threading.Thread(target=run, args=(i, *p)) for i, p in enumerate(probes)]
        for t in threads: t.start()
        for t in threads: t.join()
        print(json.dumps(results))
        """.write(to: directory.appendingPathComponent("probe.py"), atomically: true, encoding: .utf8)
        let ready = directory.appendingPathComponent("ready").path
        listener = try startListener(["netns", "exec", origin, try TestTools.which("python3"), listenerScript.path, ready] + listening.map(String.init),
                                     name: "listener")
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: ready) { usleep(50_000) }
        guard FileManager.default.fileExists(atPath: ready) else { throw LabError("listener did not start") }
    }

    /// Creates the container namespace (once) and turns on forwarding in the origin.
    public func enableContainer() throws {
        guard container == nil else { return }
        let name = origin.replacingOccurrences(of: "oa-fw-o-", with: "oa-fw-k-")
        try must(["ip", "netns", "add", name])
        container = name
        let short = String(origin.suffix(8)).replacingOccurrences(of: "-", with: "")
        let a = String("od\(short)".prefix(15)), b = String("ok\(short)".prefix(15))
        try must(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
        try must(["ip", "link", "set", a, "netns", origin])
        try must(["ip", "link", "set", b, "netns", name])
        try must(["ip", "-n", origin, "link", "set", a, "name", "docker0"])
        try must(["ip", "-n", name, "link", "set", b, "name", "eth0"])
        try must(["ip", "-n", origin, "addr", "add", "172.17.0.1/16", "dev", "docker0"])
        try must(["ip", "-n", name, "addr", "add", "172.17.0.2/16", "dev", "eth0"])
        for (namespace, device) in [(origin, "docker0"), (name, "eth0"), (name, "lo")] { try must(["ip", "-n", namespace, "link", "set", device, "up"]) }
        try must(["ip", "-n", name, "route", "add", "default", "via", "172.17.0.1"])
        try must(["ip", "netns", "exec", origin, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
        _ = try sh(["ip", "netns", "exec", origin, "sysctl", "-qw", "net.ipv4.conf.docker0.rp_filter=0"])
        let ready = directory.appendingPathComponent("container-ready").path
        containerListener = try startListener(["netns", "exec", name, try TestTools.which("python3"), directory.appendingPathComponent("listener.py").path, ready, "80"],
                                              name: "container-listener")
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: ready) { usleep(50_000) }
    }

    /// Creates the LAN namespace (once): the origin's `name` (enp2s0 unless told) faces it, and
    /// `sources` (198.18.0.0/24 unless told) are its addresses.
    public func enableLAN(name device: String = "enp2s0", sources: [String] = KernelLab.lanSources) throws {
        guard lan == nil else { return }
        let name = origin.replacingOccurrences(of: "oa-fw-o-", with: "oa-fw-l-")
        try must(["ip", "netns", "add", name])
        lan = name
        let short = String(origin.suffix(8)).replacingOccurrences(of: "-", with: "")
        let a = String("ol\(short)".prefix(15)), b = String("ln\(short)".prefix(15))
        try must(["ip", "link", "add", a, "address", KernelLab.originLANMAC, "type", "veth", "peer", "name", b, "address", KernelLab.lanMAC])
        try must(["ip", "link", "set", a, "netns", origin])
        try must(["ip", "link", "set", b, "netns", name])
        try must(["ip", "-n", origin, "link", "set", a, "name", device])
        try must(["ip", "-n", name, "link", "set", b, "name", "eth0"])
        for (namespace, link) in [(origin, device), (name, "eth0"), (name, "lo")] { try must(["ip", "-n", namespace, "link", "set", link, "up"]) }
        _ = try sh(["ip", "netns", "exec", origin, "sysctl", "-qw", "net.ipv4.conf.\(device.replacingOccurrences(of: ".", with: "/")).rp_filter=0"])
        _ = try sh(["ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.eth0.rp_filter=0"])
        for source in sources {
            try must(["ip", "-n", name, "addr", "add", "\(source)/32", "dev", "eth0"])
            try must(["ip", "-n", origin, "route", "add", "\(source)/32", "dev", device])
            try must(["ip", "-n", origin, "neigh", "replace", source, "lladdr", KernelLab.lanMAC, "dev", device, "nud", "permanent"])
        }
        try must(["ip", "-n", name, "route", "add", "\(KernelLab.originV4)/32", "dev", "eth0"])
        try must(["ip", "-n", name, "neigh", "replace", KernelLab.originV4, "lladdr", KernelLab.originLANMAC, "dev", "eth0", "nud", "permanent"])
    }

    /// `ip ARGUMENTS` as a session of its own (stopped whole in tearDown), output to files.
    private func startListener(_ arguments: [String], name: String) throws -> SessionProcess {
        try SessionProcess(try TestTools.which("ip"), arguments, environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
                           stdout: directory.appendingPathComponent("\(name).out"), stderr: directory.appendingPathComponent("\(name).err"))
    }

    public func tearDown() {
        for process in [listener, containerListener].compactMap({ $0 }) { process.stop(grace: 1) }
        listener = nil
        containerListener = nil
        if let container { _ = try? sh(["ip", "netns", "del", container]) }
        container = nil
        if let lan { _ = try? sh(["ip", "netns", "del", lan]) }
        lan = nil
        _ = try? sh(["ip", "netns", "del", origin])
        _ = try? sh(["ip", "netns", "del", cdn])
        try? FileManager.default.removeItem(at: directory)
    }

    /// Empties every table and set in the origin's namespace.
    public func reset() throws {
        _ = try inOrigin(["nft", "flush", "ruleset"])
        _ = try inOrigin(["ipset", "destroy"])
    }

    /// Connects from each (source, port) to the origin; classifies connected / refused /
    /// unreachable:E… / timeout.
    /// The timeout outlives the first SYN retransmission (1 s): an ICMP error that reaches a socket
    /// while connect() still holds its lock is only reported when the retransmitted SYN meets the next one.
    public func probe(_ pairs: [(source: String, port: UInt16)], timeout: Double = 1.6, fromLAN: Bool = false) throws -> [String] {
        let list = pairs.map { "[\"\($0.source)\", \"\($0.source.contains(":") ? KernelLab.originV6 : KernelLab.originV4)\", \($0.port)]" }
        let json = "[" + list.joined(separator: ",") + "]"
        let result = try sh(["ip", "netns", "exec", fromLAN ? lan ?? cdn : cdn, "python3", directory.appendingPathComponent("probe.py").path, json, String(timeout)], timeout: 30)
        guard result.status == 0 else { throw LabError("probe failed: \(result.stderr)") }
        let trimmed = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let items = trimmed.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \"")) }
        return items
    }
}

public struct LabError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What the kernel is expected to do for a predicted outcome.
public enum Observation {
    /// The observations compatible with a decision (several for rate-limited / unknown).
    public static func compatible(_ outcome: Outcome) -> Set<String>? {
        func one(_ verdict: Verdict) -> String {
            switch verdict {
            case .accept: "connected"
            case .drop: "timeout"
            case .reject(let type): type == "tcp-reset" || type.hasSuffix("port-unreachable") ? "refused" : "unreachable"
            }
        }
        switch outcome.kind {
        case .accept, .drop, .reject: return [one(outcome.possible[0])]
        case .rateLimited: return Set(outcome.possible.map(one))
        case .unknown: return outcome.possible.isEmpty ? nil : Set(outcome.possible.map(one))
        }
    }

    public static func normalise(_ observed: String) -> String { observed.hasPrefix("unreachable") ? "unreachable" : observed }
}
