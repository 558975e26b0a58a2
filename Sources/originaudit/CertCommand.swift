import ArgumentParser
import Certificates
import Foundation
import OriginAuditCore

struct CertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert",
        abstract: "Print what the tool knows about certificate and key files: names, issuer, validity, key, chain verdict per mode.",
        discussion: "Exit 0 when every leaf would be accepted in strict mode at --at for every --hostname, 1 otherwise.")

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
        let leaves = paths.compactMap { loaded.model[$0]?.certificates.first }.filter { !$0.isCA }
        let strictOK = leaves.allSatisfy { leaf in
            let file = paths.compactMap { loaded.model[$0] }.first { $0.certificates.first == leaf }
            let verdict = loaded.model.trust?.verify(leaf: leaf, served: Array(file?.certificates.dropFirst() ?? []), at: instant)
            return (verdict?.isTrusted ?? false) && hostnames.allSatisfy { leaf.covers($0).covered }
        }
        if !loaded.findings.isEmpty || !loaded.model.missing.isEmpty || !strictOK { throw ExitCode(1) }
    }
}
