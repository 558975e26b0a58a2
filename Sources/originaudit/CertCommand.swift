import ArgumentParser
import Certificates
import Foundation
import OriginAuditCore

struct CertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert",
        abstract: "Print what the tool knows about certificate and key files: names, issuer, validity, key, chain verdict per mode.",
        discussion: "Exit 0 when the first certificate of every file would be accepted in strict mode at --at for every --hostname, by OpenSSL and by the stricter verifiers the audit knows of, and every key belongs to a certificate given; 1 otherwise.")

    @Argument(help: "Certificate and key files (PEM or DER).") var files: [String]
    @Option(name: .customLong("hostname"), help: ArgumentHelp("A hostname the certificate must cover (repeatable).", valueName: "name"))
    var hostnames: [String] = []
    @Option(help: ArgumentHelp("The instant to judge at: RFC 3339, a date, or +30d (default now).", valueName: "time")) var at: String?
    @Option(name: .customLong("ca-file"), help: ArgumentHelp("Extra trusted CA certificates (PEM).", valueName: "file")) var caFiles: [String] = []

    func run() throws {
        let now = Date()
        var instant = now
        if let at {
            guard let parsed = Profile.parseInstant(at, now: now) else { throw ValidationError("--at '\(at)' is not an RFC 3339 time, a date, or an offset such as +30d") }
            instant = parsed
        }
        let tree = SourceTree(root: nil)
        let paths = files.map { tree.hostPath($0) }
        let loaded = CertificateLoader.load(paths.map { CertificateReference(hostPath: $0, role: .any, referencedAt: SourceLocation(file: "command line")) },
                                            tree: tree, extraCAFiles: caFiles.map { tree.hostPath($0) })
        // Subjects, issuers and paths come from the files: escaped for the terminal.
        print(TerminalText.escape(CertificateReport.render(loaded.model, files: paths, hostnames: hostnames, at: instant), keepNewlines: true), terminator: "")
        for finding in loaded.findings { print(TerminalText.escape("\(finding.ruleId): \(KeyMaterial.redacted(finding.message))")) }
        for missing in loaded.model.missing { print(TerminalText.escape("\(missing.hostPath): does not exist")) }
        for note in loaded.notes { print(TerminalText.escape("note: \(note)")) }
        // Every file's first certificate is judged as served, whatever its flags.
        let strictOK = paths.compactMap { loaded.model[$0] }.allSatisfy { file in
            CertificateReport.judge(file, inventory: loaded.model, hostnames: hostnames, at: instant)?.isAccepted ?? true
        }
        // A key that belongs to no certificate given cannot be served: the server refuses the pair.
        let allCertificates = loaded.model.files.values.flatMap(\.certificates)
        let strayKey = loaded.model.files.values.contains { file in
            file.keys.contains { key in !key.encrypted && !allCertificates.contains { key.belongs(to: $0) } }
        }
        if !loaded.findings.isEmpty || !loaded.model.missing.isEmpty || !strictOK || strayKey { throw ExitCode(1) }
    }
}
