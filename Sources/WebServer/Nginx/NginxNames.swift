/// The directive names the loader acts on by name, as small numbers: the parser, nginx's directive
/// check and the model builder ask "which directive is this?" with an integer instead of hashing or
/// comparing Strings (a 10,000-server estate has 350,000 directives, each asked several times).
/// For these ASCII names byte equality is String equality (no other text is canonically equivalent
/// to a lowercase ASCII word), so the numbers decide exactly what the String comparisons decided.
enum NginxName: UInt16, CaseIterable, Sendable {
    /// Any other name: one of the directive table's, or one nothing knows.
    case other = 0
    case include, http, events, server, location, upstream, `if`, limitExcept, map, geo, splitClients, charsetMap
    case stream, mail, types, loadModule, logFormat, set, limitReqZone, limitConnZone, accessLog
    case limitReq, limitConn, proxyPass, fastcgiPass, uwsgiPass, grpcPass, scgiPass, memcachedPass, resolver
    case serverName, listen, `return`, rewrite, `default`, allow, deny, setRealIPFrom, realIPHeader, realIPRecursive
    case proxyReadTimeout, fastcgiReadTimeout, uwsgiReadTimeout, grpcReadTimeout, keepaliveTimeout
    case sslCertificate, sslCertificateKey, sslProtocols, sslCiphers, sslVerifyClient, sslClientCertificate
    case ssl, sslRejectHandshake, http2

    /// The name as written in a configuration, by case (`other` has none).
    static let spellings: [String] = [
        "", "include", "http", "events", "server", "location", "upstream", "if", "limit_except", "map", "geo",
        "split_clients", "charset_map", "stream", "mail", "types", "load_module", "log_format", "set",
        "limit_req_zone", "limit_conn_zone", "access_log", "limit_req", "limit_conn", "proxy_pass", "fastcgi_pass",
        "uwsgi_pass", "grpc_pass", "scgi_pass", "memcached_pass", "resolver", "server_name", "listen", "return",
        "rewrite", "default", "allow", "deny", "set_real_ip_from", "real_ip_header", "real_ip_recursive",
        "proxy_read_timeout", "fastcgi_read_timeout", "uwsgi_read_timeout", "grpc_read_timeout", "keepalive_timeout",
        "ssl_certificate", "ssl_certificate_key", "ssl_protocols", "ssl_ciphers", "ssl_verify_client",
        "ssl_client_certificate", "ssl", "ssl_reject_handshake", "http2",
    ]

    /// The name as written (`NginxNameTable`'s shared String for it).
    var spelling: String { NginxNameTable.shared.names[Int(rawValue)] }
}

/// Every name the loader knows (`NginxName`'s, the parser grammar's and the directive table's),
/// each with a number, its one shared String, and what the parser, the check and the builder need
/// to know of it. Looked up on the bytes of a directive's first word, once, when it is read.
struct NginxNameTable: Sendable {
    /// What is known of a name, as bits.
    struct Traits: OptionSet, Sendable {
        let rawValue: UInt16
        /// A block wherever it appears (`NginxGrammar.blockDirectives`).
        static let grammarBlock = Traits(rawValue: 1 << 0)
        /// Never a block (`NginxGrammar.simpleDirectives`).
        static let grammarSimple = Traits(rawValue: 1 << 1)
        /// Its block holds data, not directives (`NginxGrammar.dataBlocks`).
        static let dataBlock = Traits(rawValue: 1 << 2)
        /// Not looked into by the directive check (`NginxDirectiveCheck.opaqueBlocks`).
        static let opaque = Traits(rawValue: 1 << 3)
        /// Read by the model builder's `settings(of:)`.
        static let setting = Traits(rawValue: 1 << 4)
        /// Acted on by the model builder's `walk`.
        static let walked = Traits(rawValue: 1 << 5)
        /// Ends in `_set` (defines a variable, for the check).
        static let setSuffix = Traits(rawValue: 1 << 6)
    }

    /// Names by number; 0 is no known name.
    let names: [String]
    let traits: [Traits]
    /// Open addressing on an FNV-1a hash of the bytes: slot → number (0: empty).
    private let slots: [UInt16]
    private let mask: Int
    /// Every name's bytes, one after another, and where each starts (`offsets[n]..<offsets[n + 1]`).
    private let bytes: [UInt8]
    private let offsets: [Int]
    /// The longest name's length: longer words are looked up no further.
    private let longest: Int

    static let shared = NginxNameTable()

    private init() {
        var names = NginxName.spellings
        precondition(names.count == NginxName.allCases.count, "NginxName.spellings must list every case")
        var known = Set(names)
        let more = NginxGrammar.blockDirectives.union(NginxGrammar.simpleDirectives).union(NginxGrammar.dataBlocks)
            .union(NginxDirectiveCheck.opaqueBlocks).union(NginxModelBuilder.settingDirectives)
            .union(NginxModelBuilder.walkedDirectives).union(NginxDirectiveCheck.table.keys)
        for name in more.sorted() where known.insert(name).inserted { names.append(name) }
        precondition(names.count < Int(UInt16.max), "too many directive names")
        self.names = names
        traits = names.map { name in
            var traits: Traits = []
            if NginxGrammar.blockDirectives.contains(name) { traits.insert(.grammarBlock) }
            if NginxGrammar.simpleDirectives.contains(name) { traits.insert(.grammarSimple) }
            if NginxGrammar.dataBlocks.contains(name) { traits.insert(.dataBlock) }
            if NginxDirectiveCheck.opaqueBlocks.contains(name) { traits.insert(.opaque) }
            if NginxModelBuilder.settingDirectives.contains(name) { traits.insert(.setting) }
            if NginxModelBuilder.walkedDirectives.contains(name) { traits.insert(.walked) }
            if name.hasSuffix("_set") { traits.insert(.setSuffix) }
            return traits
        }
        var bytes: [UInt8] = [], offsets = [0]
        for name in names {
            bytes += name.utf8
            offsets.append(bytes.count)
        }
        self.bytes = bytes
        self.offsets = offsets
        longest = names.map(\.utf8.count).max() ?? 0
        var size = 64
        while size < names.count * 4 { size *= 2 }
        mask = size - 1
        var slots = [UInt16](repeating: 0, count: size)
        for number in 1..<names.count {
            var slot = bytes[offsets[number]..<offsets[number + 1]].withContiguousStorageIfAvailable(NginxNameTable.hash)! & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = UInt16(number)
        }
        self.slots = slots
    }

    @inline(__always) private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Int(truncatingIfNeeded: hash ^ (hash >> 29))
    }

    /// The number of the name spelt by `text`, 0 when it is none the loader knows.
    func number(of text: UnsafeBufferPointer<UInt8>) -> UInt16 {
        guard text.count > 0 && text.count <= longest else { return 0 }
        var slot = NginxNameTable.hash(text) & mask
        return bytes.withUnsafeBufferPointer { all in
            while true {
                let number = slots[slot]
                if number == 0 { return 0 }
                let start = offsets[Int(number)], end = offsets[Int(number) + 1]
                if end - start == text.count {
                    var index = 0
                    while index < text.count && all[start + index] == text[index] { index += 1 }
                    if index == text.count { return number }
                }
                slot = (slot + 1) & mask
            }
        }
    }

    /// The number of a name given as a String.
    func number(of text: String) -> UInt16 {
        var text = text
        return text.withUTF8 { number(of: $0) }
    }
}
