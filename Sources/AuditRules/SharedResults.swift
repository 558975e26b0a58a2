import OriginAuditCore

/// What several rules derive from one model (the proxied hosts and the CDN addresses each does
/// not restore, the host selection, the served certificates and their chain verdicts), worked
/// out before the rules start, side by side. Rules that asked for one first computed it while
/// every other rule that needed it waited, so on a large estate one core worked and the other
/// idled; and two certificate rules verified the same chains at the same time.
enum SharedResults {
    /// The rules that read what each proxied host does not restore (`OriginContext.unrestored`).
    static let readingUnrestored = ["origin.deny-blocks-cdn", "origin.per-ip-limit-on-cdn", "origin.realip-incomplete"]
    /// The rules that read the host selection and the configured hostnames (when the ports
    /// alone do not answer for them: `prepare`).
    static let readingSelection = ["origin.tls-listener-missing", "origin.http-listener-missing", "origin.port-not-listening"]
    /// The rules that read chain verdicts (`TrustVerdict`, `ServedCertificate.judged`).
    static let readingVerdicts = [
        "tls.self-signed", "tls.untrusted-issuer", "tls.chain-incomplete", "tls.weak-key", "tls.weak-signature",
        "tls.cert-expired", "tls.cert-not-yet-valid", "tls.cert-expiring", "tls.hostname-mismatch",
    ]

    /// Computes, into the model's cache of derived results, what the enabled rules will ask for.
    static func prepare(_ model: OriginModel, _ profile: Profile, ruleIds: Set<String>) async {
        func reads(_ ids: [String]) -> Bool { ids.contains(where: ruleIds.contains) }
        let webServer = !model.webServer.servers.isEmpty
        let unrestored = webServer && reads(readingUnrestored)
        let proxied = webServer && !unrestored && ruleIds.contains { $0.hasPrefix("origin.") }
        let selecting = webServer && reads(readingSelection)
        let certificates = !model.certificates.files.isEmpty && ruleIds.contains { $0.hasPrefix("tls.") }
        guard unrestored || proxied || selecting || certificates else { return }
        let served: [ServedCertificate] = await withTaskGroup(of: [ServedCertificate]?.self) { group in
            if unrestored || proxied {
                group.addTask {
                    // The proxied hosts, and (computed from them) what each does not restore.
                    if unrestored { _ = OriginContext.unrestored(model, profile) } else { _ = OriginContext.proxiedHosts(model, profile) }
                    return nil
                }
            }
            if selecting {
                group.addTask {
                    // The listener rules choose a host for each name only when the port does not
                    // already answer for every name; port-not-listening asks with a firewall.
                    // (Asked here, beside the other work: asking the port reads every host.)
                    let selection = (ruleIds.contains("origin.tls-listener-missing") && !TLSListenerMissingRule.portAnswersEveryName(model))
                        || (ruleIds.contains("origin.http-listener-missing") && !HTTPListenerMissingRule.portAnswersEveryName(model))
                        || (ruleIds.contains("origin.port-not-listening") && !model.firewall.families.isEmpty)
                    if selection {
                        _ = HostSelection.of(model)
                        _ = OriginContext.hostnames(model, profile)
                    }
                    return nil
                }
            }
            if certificates { group.addTask { ServedCertificate.all(model, profile) } }
            var served: [ServedCertificate] = []
            for await result in group { if let result { served = result } }
            return served
        }
        // Each chain verified once (the verifier keeps its verdicts), in slices side by side.
        guard reads(readingVerdicts), model.certificates.trust != nil, !served.isEmpty else { return }
        let slices = min(served.count, 16)
        await withTaskGroup(of: Void.self) { group in
            for slice in 0..<slices {
                group.addTask {
                    for index in stride(from: slice, to: served.count, by: slices) { _ = TrustVerdict.of(served[index], model, profile) }
                }
            }
        }
    }
}
