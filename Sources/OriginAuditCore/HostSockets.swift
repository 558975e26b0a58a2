/// What is listening on this machine right now (live mode): TCP sockets in LISTEN state and the
/// unix-domain sockets that exist, read from /proc/net/{tcp,tcp6,unix}.
public struct HostSockets: Sendable, Hashable {
    /// A listening TCP socket: its local address (nil: every address of the family) and port.
    public struct TCPListener: Sendable, Hashable {
        public var family: AddressFamily
        public var address: IPAddress?
        public var port: UInt16
        public init(family: AddressFamily, address: IPAddress?, port: UInt16) {
            self.family = family
            self.address = address
            self.port = port
        }
    }

    public var tcp: [TCPListener]
    public var unixPaths: Set<String>

    public init(tcp: [TCPListener] = [], unixPaths: Set<String> = []) {
        self.tcp = tcp
        self.unixPaths = unixPaths
    }

    /// Whether something accepts TCP connections on `port` at `address` (or at every address).
    public func listens(port: UInt16, address: IPAddress? = nil) -> Bool {
        tcp.contains { listener in
            guard listener.port == port else { return false }
            guard let address, let bound = listener.address else { return true }
            if bound == address { return true }
            // An IPv6 wildcard with dual-stack also takes IPv4 (the Linux default, bindv6only=0).
            return false
        }
    }

    /// Parses `/proc/net/tcp` or `/proc/net/tcp6`: hexadecimal local address and port, state 0A = LISTEN.
    /// Addresses are in the kernel's byte order, 32-bit words in host (little-endian) order.
    public static func parseProcTCP(_ text: String, family: AddressFamily) -> [TCPListener] {
        var listeners: [TCPListener] = []
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 3, fields[3] == "0A" else { continue }
            let local = fields[1].split(separator: ":")
            guard local.count == 2, let port = UInt16(local[1], radix: 16) else { continue }
            let hex = Array(local[0].utf8)
            var value: UInt128 = 0
            var words = 0
            var index = 0
            while index + 8 <= hex.count {
                guard let word = UInt32(String(decoding: hex[index..<(index + 8)], as: UTF8.self), radix: 16) else { break }
                value = value << 32 | UInt128(word.byteSwapped)
                words += 1
                index += 8
            }
            guard words == (family == .ipv4 ? 1 : 4) else { continue }
            let address = IPAddress(family: family, value: value)
            listeners.append(TCPListener(family: family, address: value == 0 ? nil : address, port: port))
        }
        return listeners
    }

    /// Parses `/proc/net/unix`: the paths of bound sockets (abstract ones, `@…`, are left out).
    public static func parseProcUnix(_ text: String) -> Set<String> {
        var paths = Set<String>()
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 8, fields[7].hasPrefix("/") else { continue }
            paths.insert(fields[7...].joined(separator: " "))
        }
        return paths
    }
}
