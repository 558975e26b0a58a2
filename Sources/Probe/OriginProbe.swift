import Certificates
import COpenSSL
import Foundation
import Glibc
import OriginAuditCore

/// What the CDN would see connecting to an origin, classified the way it reports it.
public struct ProbeResult: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// TCP RST: nothing listens, or a firewall REJECT (→ 521).
        case refused
        /// No answer within the connect timeout: a DROP, or no route (→ 522).
        case timedOut
        /// An ICMP error or another connect failure (→ 521/522 depending on the CDN).
        case unreachable(String)
        /// The TLS handshake failed (→ 525).
        case handshakeFailed(String)
        /// The certificate is not accepted under the mode (→ 526).
        case certificateRejected(String)
        /// An HTTP answer with this status.
        case http(Int)
        /// Connected, but no HTTP status line came back in time (→ 520/524).
        case noHTTPAnswer(String)
    }

    public var outcome: Outcome
    public var detail: String
    /// The certificate the origin served (subject, issuer, validity), when TLS got that far.
    public var certificate: String?
    public var tlsVersion: String?
    public var cipher: String?

    /// What the CDN would show visitors: a Cloudflare error code or the origin's status.
    public var predicts: String {
        switch outcome {
        case .refused, .unreachable: "521"
        case .timedOut: "522"
        case .handshakeFailed: "525"
        case .certificateRejected: "526"
        case .http(let status): String(status)
        case .noHTTPAnswer: "520"
        }
    }
}

/// A real TCP connection and TLS handshake through libssl, with short timeouts: the CDN's view
/// of one origin port. Only connects where it is told; sends one `HEAD /` request.
public struct OriginProbe: Sendable {
    public var host: String
    public var port: UInt16
    /// The name sent in SNI and the Host header, and checked against the certificate.
    public var serverName: String
    public var mode: TLSMode
    public var connectTimeout: TimeInterval = 5
    public var readTimeout: TimeInterval = 5
    /// Extra trust anchors (PEM text) besides the system store: the CDN's Origin CA roots.
    public var extraTrust: [String] = EmbeddedTrust.pemFiles.map(\.pem)
    /// Extra CA files (`--ca-file`).
    public var caFiles: [String] = []

    public init(host: String, port: UInt16, serverName: String? = nil, mode: TLSMode) {
        self.host = host
        self.port = port
        self.serverName = serverName ?? host
        self.mode = mode
    }

    /// Whether the mode speaks TLS to the origin.
    public var usesTLS: Bool { mode == .full || mode == .strict || mode == .originPull }

    public func run() -> ProbeResult {
        let connection = connect()
        guard case .success(let fd) = connection else {
            if case .failure(let failure) = connection { return ProbeResult(outcome: failure.outcome, detail: describe(failure.outcome)) }
            return ProbeResult(outcome: .unreachable("unknown"), detail: "")
        }
        defer { close(fd) }
        var timeout = timeval(tv_sec: Int(readTimeout), tv_usec: suseconds_t((readTimeout - floor(readTimeout)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return usesTLS ? tlsExchange(fd) : plainExchange(fd)
    }

    private func describe(_ outcome: ProbeResult.Outcome) -> String {
        switch outcome {
        case .refused: "connection refused by \(host):\(port) (TCP reset)"
        case .timedOut: "no answer from \(host):\(port) within \(Int(connectTimeout)) s"
        case .unreachable(let reason): "\(host):\(port) unreachable: \(reason)"
        default: ""
        }
    }

    /// Non-blocking connect bounded by `connectTimeout`; RST, timeout and ICMP errors told apart.
    private func connect() -> Result<Int32, ProbeFailure> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            return .failure(ProbeFailure(.unreachable("cannot resolve \(host): \(String(cString: gai_strerror(status)))")))
        }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard fd >= 0 else { return .failure(ProbeFailure(.unreachable("socket: \(String(cString: strerror(errno)))"))) }
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        let result = Glibc.connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen)
        if result != 0 && errno != EINPROGRESS {
            let error = errno
            close(fd)
            return .failure(ProbeFailure(error == ECONNREFUSED ? .refused : .unreachable(String(cString: strerror(error)))))
        }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&poller, 1, Int32(connectTimeout * 1000))
        if ready == 0 {
            close(fd)
            return .failure(ProbeFailure(.timedOut))
        }
        var socketError: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &length)
        if socketError != 0 {
            close(fd)
            return .failure(ProbeFailure(socketError == ECONNREFUSED ? .refused
                : socketError == ETIMEDOUT ? .timedOut : .unreachable(String(cString: strerror(socketError)))))
        }
        _ = fcntl(fd, F_SETFL, flags)
        return .success(fd)
    }

    private var request: String {
        "HEAD / HTTP/1.1\r\nHost: \(serverName)\r\nUser-Agent: originaudit-probe\r\nConnection: close\r\n\r\n"
    }

    private func plainExchange(_ fd: Int32) -> ProbeResult {
        let bytes = Array(request.utf8)
        guard send(fd, bytes, bytes.count, 0) == bytes.count else {
            return ProbeResult(outcome: .noHTTPAnswer("send failed"), detail: "the request could not be sent")
        }
        let answer = readStatusLine { buffer in recv(fd, &buffer, buffer.count, 0) }
        return httpResult(answer, certificate: nil, version: nil, cipher: nil)
    }

    /// Reads until the status line has ended (a server may send `HTTP/1.1 ` and `200 OK` in two
    /// segments), the peer closes, 8 KiB arrived, or the read timeout has passed in total.
    private func readStatusLine(_ read: (inout [UInt8]) -> Int) -> [UInt8] {
        let deadline = Date().addingTimeInterval(readTimeout)
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !answer.contains(UInt8(ascii: "\n")) && answer.count < 8192 && Date() < deadline {
            let count = read(&buffer)
            if count <= 0 { break }
            answer += buffer[0..<count]
        }
        return answer
    }

    private func httpResult(_ bytes: [UInt8], certificate: String?, version: String?, cipher: String?) -> ProbeResult {
        let text = String(decoding: bytes, as: UTF8.self)
        let statusLine = text.split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
        let parts = statusLine.split(separator: " ")
        if parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) {
            return ProbeResult(outcome: .http(status), detail: statusLine, certificate: certificate, tlsVersion: version, cipher: cipher)
        }
        let reason = bytes.isEmpty ? "the origin closed the connection or sent nothing within \(Int(readTimeout)) s" : "the answer is not HTTP: \(statusLine.prefix(60))"
        return ProbeResult(outcome: .noHTTPAnswer(reason), detail: reason, certificate: certificate, tlsVersion: version, cipher: cipher)
    }

    private func tlsExchange(_ fd: Int32) -> ProbeResult {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            return ProbeResult(outcome: .handshakeFailed("libssl could not create a context"), detail: OpenSSLError.drain())
        }
        defer { SSL_CTX_free(context) }
        // Cloudflare offers TLS 1.0–1.3 to origins; the probe does the same.
        _ = SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(TLS1_VERSION), nil)
        _ = SSL_CTX_set_cipher_list(context, "ALL:@SECLEVEL=0")
        SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        _ = SSL_CTX_set_default_verify_paths(context)
        let store = SSL_CTX_get_cert_store(context)
        for pem in extraTrust { PEMReader.addCertificates(pem: pem, to: store) }
        for file in caFiles { _ = SSL_CTX_load_verify_locations(context, file, nil) }
        guard let ssl = SSL_new(context) else {
            return ProbeResult(outcome: .handshakeFailed("libssl could not create a connection"), detail: OpenSSLError.drain())
        }
        defer { SSL_free(ssl) }
        serverName.withCString { name in
            _ = SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: name))
        }
        let parameters = SSL_get0_param(ssl)
        _ = X509_VERIFY_PARAM_set1_host(parameters, serverName, 0)
        SSL_set_fd(ssl, fd)
        ERR_clear_error()
        guard SSL_connect(ssl) == 1 else {
            let reason = OpenSSLError.drain()
            return ProbeResult(outcome: .handshakeFailed(reason.isEmpty ? "the handshake did not complete" : reason),
                               detail: "TLS handshake with \(host):\(port) failed: \(reason.isEmpty ? "no TLS answer" : reason)")
        }
        let version = String(cString: SSL_get_version(ssl))
        let cipher = SSL_get_current_cipher(ssl).map { String(cString: SSL_CIPHER_get_name($0)) }
        var certificate: String?
        if let peer = SSL_get1_peer_certificate(ssl) {
            certificate = ProbeText.summary(peer)
            X509_free(peer)
        }
        if mode.validatesCertificate {
            let verdict = SSL_get_verify_result(ssl)
            if verdict != X509_V_OK {
                let reason = String(cString: X509_verify_cert_error_string(verdict))
                return ProbeResult(outcome: .certificateRejected(reason), detail: "the certificate is rejected in \(mode.rawValue) mode: \(reason)",
                                   certificate: certificate, tlsVersion: version, cipher: cipher)
            }
        }
        let bytes = Array(request.utf8)
        guard SSL_write(ssl, bytes, Int32(bytes.count)) == Int32(bytes.count) else {
            return ProbeResult(outcome: .noHTTPAnswer("write failed"), detail: OpenSSLError.drain(), certificate: certificate, tlsVersion: version, cipher: cipher)
        }
        let answer = readStatusLine { buffer in Int(SSL_read(ssl, &buffer, Int32(buffer.count))) }
        return httpResult(answer, certificate: certificate, version: version, cipher: cipher)
    }
}

struct ProbeFailure: Error {
    var outcome: ProbeResult.Outcome
    init(_ outcome: ProbeResult.Outcome) { self.outcome = outcome }
}

/// Small helpers over libcrypto objects for the probe's report.
enum ProbeText {
    /// `subject … issued by … valid until …` for the report.
    static func summary(_ certificate: OpaquePointer) -> String {
        var text = "subject \(CertificateInfo.name(X509_get_subject_name(certificate))); issuer \(CertificateInfo.name(X509_get_issuer_name(certificate)))"
        if let notAfter = X509_get0_notAfter(certificate), let bio = BIO_new(BIO_s_mem()) {
            ASN1_TIME_print(bio, notAfter)
            text += "; valid until \(CertificateInfo.readAll(bio))"
            BIO_free(bio)
        }
        return text
    }
}
