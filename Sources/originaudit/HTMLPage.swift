import Audit
import AuditRules
import Firewall
import OriginAuditCore
import Reporters

/// The HTML page of `scan` and `firewall`: the reachability matrix over the ports the CDN will
/// use, and (for `scan`) the verdict per hostname.
enum HTMLPage {
    /// The ports the TLS mode needs plus the proxied ports the web servers listen on.
    static func plannedPorts(_ prepared: InputArguments.Prepared) -> PortSet {
        let planned = prepared.loaded.model.cdnPorts(prepared.profile)
        return planned.http.union(planned.https)
    }

    static func matrix(_ prepared: InputArguments.Prepared, ports: PortSet) -> ReachabilityMatrix? {
        let model = prepared.loaded.model
        guard !model.firewall.families.isEmpty, !ports.isEmpty else { return nil }
        return ReachabilityMatrix.compute(model: model.firewall, cdn: prepared.profile.cdn, ports: ports,
                                          publicInterfaces: prepared.profile.publicInterfaces, originAddresses: prepared.profile.originAddresses)
    }

    /// The whole report: verdicts, matrix, findings, notes.
    static func scan(_ prepared: InputArguments.Prepared, report: AuditReport) -> String {
        let matrix = matrix(prepared, ports: plannedPorts(prepared))
        let verdicts = HostVerdicts.compute(model: prepared.loaded.model, profile: prepared.profile, findings: report.findings,
                                            unfilteredFamilies: matrix?.unfilteredFamilies ?? [])
        return HTMLReporter.render(.init(report: report, matrix: matrix, verdicts: verdicts))
    }
}
