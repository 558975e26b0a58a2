import OriginAuditCore

/// What several rules derive from one model (the proxied hosts and the CDN addresses each does
/// not restore, the host selection, the served certificates and their chain verdicts), worked
/// out before the rules start, side by side. Rules that asked for one first computed it while
/// every other rule that needed it waited, so on a large estate one core worked and the other
/// idled; and two certificate rules verified the same chains at the same time.
enum SharedResults {
    /// Computes, into the model's cache of derived results, what the enabled rules will ask for.
    static func prepare(_ model: OriginModel, _ profile: Profile, ruleIds: Set<String>) async {
        let origin = !model.webServer.servers.isEmpty && ruleIds.contains { $0.hasPrefix("origin.") }
        let certificates = !model.certificates.files.isEmpty && ruleIds.contains { $0.hasPrefix("tls.") }
        guard origin || certificates else { return }
        let served: [ServedCertificate] = await withTaskGroup(of: [ServedCertificate]?.self) { group in
            if origin {
                group.addTask {
                    _ = OriginContext.unrestored(model, profile)
                    return nil
                }
                group.addTask {
                    _ = HostSelection.of(model)
                    _ = OriginContext.hostnames(model, profile)
                    return nil
                }
            }
            if certificates { group.addTask { ServedCertificate.all(model, profile) } }
            var served: [ServedCertificate] = []
            for await result in group { if let result { served = result } }
            return served
        }
        // Each chain verified once (the verifier keeps its verdicts), in slices side by side.
        guard model.certificates.trust != nil, !served.isEmpty else { return }
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
