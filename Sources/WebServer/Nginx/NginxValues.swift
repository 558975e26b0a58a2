import OriginAuditCore

/// nginx's readings of individual directive values: times, `listen` addresses, `server_name`
/// forms, upstream URLs, address lists. Pure functions of the text.
enum NginxValues {
    /// `ngx_parse_time`: `90`, `90s`, `1m30s`, `1h 30m`, `500ms`; units ms s m h d w M y; a bare
    /// number is seconds. nil when nginx would reject it.
    static func seconds(_ text: String) -> Double? {
        var text = text
        return text.withUTF8(seconds)
    }

    /// `seconds(_:)` on the text's bytes.
    static func seconds(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        guard !bytes.isEmpty else { return nil }
        var total = 0.0, index = 0
        while index < bytes.count {
            if bytes[index] == 0x20 { index += 1; continue }
            var number = 0.0, digits = 0
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                number = number * 10 + Double(bytes[index] - 0x30)
                index += 1
                digits += 1
            }
            guard digits > 0 else { return nil }
            var factor = 1.0
            if index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "m"):
                    if index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "s") { factor = 0.001; index += 1 } else { factor = 60 }
                case UInt8(ascii: "s"): factor = 1
                case UInt8(ascii: "h"): factor = 3600
                case UInt8(ascii: "d"): factor = 86400
                case UInt8(ascii: "w"): factor = 604_800
                case UInt8(ascii: "M"): factor = 2_592_000
                case UInt8(ascii: "y"): factor = 31_536_000
                case 0x20: factor = 1
                default: return nil
                }
                index += 1
            }
            total += number * factor
        }
        return total
    }

    /// Whether text holds an nginx variable (`$name`), so its value is known only per request.
    static func hasVariable(_ text: some StringProtocol) -> Bool {
        // On the contiguous UTF-8 where there is one (a native String or Substring): a byte search.
        text.utf8.withContiguousStorageIfAvailable { $0.contains(UInt8(ascii: "$")) } ?? text.utf8.contains(UInt8(ascii: "$"))
    }

    /// The address part of `listen`: `80`, `*:80`, `127.0.0.1`, `[::]:443`, `unix:/path`, `host:port`.
    static func listenAddress(_ spec: String, ipv6only: Bool) -> (address: Listener.Address, port: UInt16?)? {
        if spec.hasPrefix("unix:") { return (.unix(String(spec.dropFirst(5))), nil) }
        // In ASCII text a byte is a Character: searched on the bytes, without grapheme breaking.
        let ascii = !spec.utf8.contains { $0 >= 0x80 }
        func first(_ byte: UInt8) -> String.Index? { ascii ? spec.utf8.firstIndex(of: byte) : spec.firstIndex(of: Character(Unicode.Scalar(byte))) }
        func last(_ byte: UInt8) -> String.Index? { ascii ? spec.utf8.lastIndex(of: byte) : spec.lastIndex(of: Character(Unicode.Scalar(byte))) }
        if spec.hasPrefix("[") {
            guard let close = first(UInt8(ascii: "]")) else { return nil }
            let host = String(spec[spec.index(after: spec.startIndex)..<close])
            let rest = spec[spec.index(after: close)...]
            var port: UInt16 = 80
            if rest.hasPrefix(":") {
                guard let p = UInt16(rest.dropFirst()) else { return nil }
                port = p
            } else if !rest.isEmpty {
                return nil
            }
            guard let ip = IPAddress(host) else { return nil }
            if ip.value == 0 { return (.any(ipv6only ? .ipv6 : nil), port) }
            return (.ip(ip), port)
        }
        if let port = UInt16(spec) { return (.any(.ipv4), port) }
        var host = spec
        var port: UInt16 = 80
        if let colon = last(UInt8(ascii: ":")) {
            guard let p = UInt16(spec[spec.index(after: colon)...]) else { return nil }
            port = p
            host = String(spec[..<colon])
        }
        if host == "*" || host == "0.0.0.0" { return (.any(.ipv4), port) }
        if let ip = IPAddress(host) { return (.ip(ip), port) }
        return (.hostname(host), port)
    }

    /// One `server_name` word: `.example.com` is two names.
    static func serverNames(_ word: String) -> [ServerName] {
        if word.isEmpty || word == "_" { return [.catchAll] }
        if word.hasPrefix("~") { return [.regex(String(word.dropFirst()))] }
        if word.hasPrefix(".") { return [.wildcard("*" + word), .exact(String(word.dropFirst()))] }
        if word.hasPrefix("*.") || word.hasSuffix(".*") { return [.wildcard(word)] }
        return [.exact(word)]
    }

    /// An address-list entry (`allow`, `set_real_ip_from`, `geo`): `all`, an address or a CIDR.
    static func addresses(_ text: String) -> DualStackSet? {
        if text == "all" { return DualStackSet(ipv4: .all(.ipv4), ipv6: .all(.ipv6)) }
        guard let cidr = CIDR(text) else { return nil }
        return DualStackSet(cidrs: [cidr])
    }

    /// Where a `*_pass` sends requests: `http://host:port/uri`, `http://unix:/sock:/uri`,
    /// `host:port`, `unix:/sock`, `grpcs://…`, or an upstream group name.
    static func passEndpoint(_ directive: String, _ target: String, groups: [String: [UpstreamTarget.Endpoint]]) -> UpstreamTarget.Endpoint {
        var rest = Substring(target)
        var defaultPort: UInt16 = 80
        if let colon = target.firstIndex(of: ":"), target[colon...].hasPrefix("://") {
            switch target[..<colon].lowercased() {
            case "https", "grpcs", "suwsgi": defaultPort = 443
            default: defaultPort = 80
            }
            rest = target[target.index(colon, offsetBy: 3)...]
        }
        if rest.hasPrefix("unix:") {
            var path = rest.dropFirst(5)
            // proxy_pass http://unix:/run/app.sock:/uri — the socket path ends at the next ':'.
            if let colon = path.firstIndex(of: ":") { path = path[..<colon] }
            return hasVariable(path) ? .unresolved(target) : .unix(String(path))
        }
        var hostPort = rest
        if let slash = rest.firstIndex(of: "/") { hostPort = rest[..<slash] }
        if hasVariable(hostPort) || hostPort.isEmpty { return .unresolved(target) }
        var host = String(hostPort)
        var port: UInt16?
        if hostPort.hasPrefix("[") {
            if let close = hostPort.firstIndex(of: "]") {
                host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
                let after = hostPort[hostPort.index(after: close)...]
                if after.hasPrefix(":") { port = UInt16(after.dropFirst()) }
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            port = UInt16(hostPort[hostPort.index(after: colon)...])
            host = String(hostPort[..<colon])
        }
        if port == nil, let members = groups[host] { return .group(host, members: members) }
        return .tcp(host: host, port: port ?? defaultPort)
    }

    /// A member of an `upstream` block: `server 10.0.0.1:8080 weight=5;`, `server unix:/sock;`.
    static func upstreamMember(_ spec: String) -> UpstreamTarget.Endpoint {
        if spec.hasPrefix("unix:") { return .unix(String(spec.dropFirst(5))) }
        if spec.hasPrefix("[") {
            if let close = spec.firstIndex(of: "]") {
                let host = String(spec[spec.index(after: spec.startIndex)..<close])
                let after = spec[spec.index(after: close)...]
                return .tcp(host: host, port: after.hasPrefix(":") ? UInt16(after.dropFirst()) ?? 80 : 80)
            }
            return .unresolved(spec)
        }
        if let colon = spec.lastIndex(of: ":") {
            return .tcp(host: String(spec[..<colon]), port: UInt16(spec[spec.index(after: colon)...]) ?? 80)
        }
        return .tcp(host: spec, port: 80)
    }

    /// The scheme a redirect target sends to.
    static func targetScheme(_ target: String) -> Redirect.Scheme {
        if hasLowercasedPrefix(target, "https://") { return .https }
        if hasLowercasedPrefix(target, "http://") { return .http }
        return .any
    }

    static func isAbsoluteRedirect(_ target: String) -> Bool {
        hasLowercasedPrefix(target, "http://") || hasLowercasedPrefix(target, "https://") || hasLowercasedPrefix(target, "$scheme")
    }

    /// `text.lowercased().hasPrefix(prefix)` for a lowercase ASCII prefix, decided on the bytes of
    /// an ASCII text without making the lowercased copy (no other text lowercases to these
    /// letters); a text that is not ASCII is asked as before.
    static func hasLowercasedPrefix(_ text: String, _ prefix: StaticString) -> Bool {
        var text = text
        let decided = text.withUTF8 { bytes -> Bool? in
            bytes.contains(where: { $0 >= 0x80 }) ? nil : LowercaseASCII.hasPrefix(bytes, prefix)
        }
        return decided ?? text.lowercased().hasPrefix(prefix.description)
    }

    /// The words of an `if` condition without its parentheses (`($a`, `=`, `b)` → `$a`, `=`, `b`).
    static func ifWords(_ args: [String]) -> [String] {
        var words = args
        if let first = words.first, first.hasPrefix("(") { words[0] = String(first.dropFirst()) }
        if let last = words.last, last.hasSuffix(")") { words[words.count - 1] = String(last.dropLast()) }
        return words.filter { !$0.isEmpty }
    }

    /// What an `if (...)` tests, when it tests the scheme the request arrived over
    /// (`$scheme = http`, `$https != on`, `$server_port = 80`); nil for any other condition.
    /// Given the words `ifWords` has stripped of the parentheses.
    static func schemeCondition(ifWords words: [String]) -> Redirect.Scheme? {
        guard let variable = words.first else { return nil }
        let op = words.count > 1 ? words[1] : nil
        let value = words.count > 2 ? words[2].lowercased() : ""
        func flip(_ scheme: Redirect.Scheme) -> Redirect.Scheme { scheme == .http ? .https : .http }
        switch variable {
        case "$scheme":
            guard let op, value == "http" || value == "https" else { return nil }
            let named: Redirect.Scheme = value == "https" ? .https : .http
            return op == "=" ? named : op == "!=" ? flip(named) : nil
        case "$https":
            guard let op else { return .https }
            let on = value == "on"
            guard on || value.isEmpty else { return nil }
            let named: Redirect.Scheme = on ? .https : .http
            return op == "=" ? named : op == "!=" ? flip(named) : nil
        case "$server_port":
            guard let op, value == "80" || value == "443" else { return nil }
            let named: Redirect.Scheme = value == "443" ? .https : .http
            return op == "=" ? named : op == "!=" ? flip(named) : nil
        default:
            return nil
        }
    }
}
