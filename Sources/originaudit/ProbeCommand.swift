import ArgumentParser
import Foundation
import OriginAuditCore
import Probe

struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Connect to an origin the way the CDN would, and say what visitors would see.",
        discussion: """
        A real TCP connection and, in full/strict/origin-pull mode, a TLS handshake through libssl, \
        with short timeouts; then one HEAD request. Refused → 521, timeout → 522, handshake \
        failure → 525, certificate rejected under the mode → 526, otherwise the origin's status. \
        Exit 0 when the origin answers below 500, 1 when the CDN would show an error.
        """)

    @Argument(help: "The origin's address or name, optionally with a port: 192.0.2.1:8443, [2001:db8::1]:8443, origin.example:8443.")
    var host: String
    @Option(help: "The port (default 443 for TLS modes, 80 otherwise).") var port: UInt16?
    @Option(help: ArgumentHelp("The hostname sent as SNI and Host, and checked against the certificate (default HOST).", valueName: "name"))
    var sni: String?
    @Option(name: .customLong("tls-mode"), help: "The CDN's encryption mode: off, flexible, full, strict, origin-pull (default full).")
    var tlsMode: TLSMode = .full
    @Option(name: .customLong("connect-timeout"), help: "Seconds to wait for the TCP handshake (default 5).") var connectTimeout: Double = 5
    @Option(name: .customLong("read-timeout"), help: "Seconds to wait for TLS and HTTP answers (default 5).") var readTimeout: Double = 5
    @Option(name: .customLong("ca-file"), help: ArgumentHelp("Extra trusted CA certificates (PEM).", valueName: "file")) var caFiles: [String] = []
    @Option(help: "Output format: text, json (as `scan --format`).") var format: AnswerFormat = .text
    @Flag(help: .hidden) var json = false

    /// HOST, HOST:PORT or [IPv6]:PORT; a bare IPv6 address has no port.
    static func split(_ argument: String) -> (host: String, port: UInt16?)? {
        if argument.hasPrefix("[") {
            guard let close = argument.firstIndex(of: "]") else { return nil }
            let host = String(argument[argument.index(after: argument.startIndex)..<close])
            let rest = argument[argument.index(after: close)...]
            if rest.isEmpty { return (host, nil) }
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()), port > 0 else { return nil }
            return (host, port)
        }
        let colons = argument.filter { $0 == ":" }.count
        guard colons == 1, let colon = argument.firstIndex(of: ":") else { return (argument, nil) }
        guard let port = UInt16(argument[argument.index(after: colon)...]), port > 0 else { return nil }
        return (String(argument[..<colon]), port)
    }

    func validate() throws {
        guard let (_, given) = Self.split(host) else {
            throw ValidationError("'\(host)' is not HOST, HOST:PORT or [IPv6]:PORT")
        }
        if let given, let port, given != port {
            throw ValidationError("'\(host)' names port \(given) but --port says \(port)")
        }
        guard connectTimeout > 0, connectTimeout <= 60, readTimeout > 0, readTimeout <= 300 else {
            throw ValidationError("timeouts must be positive (connect at most 60 s, read at most 300 s)")
        }
    }

    func run() throws {
        let (address, given) = Self.split(host) ?? (host, nil)
        var probe = OriginProbe(host: address, port: 0, serverName: sni, mode: tlsMode)
        probe.port = port ?? given ?? (probe.usesTLS ? 443 : 80)
        probe.connectTimeout = connectTimeout
        probe.readTimeout = readTimeout
        probe.caFiles = caFiles
        let result = probe.run()
        if json || format == .json {
            var object: [String: Any] = ["host": address, "port": Int(probe.port), "serverName": probe.serverName,
                                         "tlsMode": tlsMode.rawValue, "predicts": result.predicts, "detail": result.detail]
            if let certificate = result.certificate { object["certificate"] = certificate }
            if let version = result.tlsVersion { object["tlsVersion"] = version }
            if let cipher = result.cipher { object["cipher"] = cipher }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else {
            // The status line and the certificate's names come from the server: escaped for the terminal.
            let e = { TerminalText.escape($0) }
            var text = "\(e(address)):\(probe.port) as \(e(probe.serverName)), \(tlsMode.rawValue) mode → \(result.predicts)\n  \(e(result.detail))\n"
            if let version = result.tlsVersion { text += "  TLS: \(e(version))\(result.cipher.map { ", \(e($0))" } ?? "")\n" }
            if let certificate = result.certificate { text += "  certificate: \(e(certificate))\n" }
            print(text, terminator: "")
        }
        if case .http(let status) = result.outcome, status < 500 { return }
        throw ExitCode(1)
    }
}
