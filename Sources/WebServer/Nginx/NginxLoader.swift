import OriginAuditCore

/// Loads nginx configurations into the shared model.
public enum NginxLoader {
    /// Reads `hostPath` (nginx.conf, an `nginx -T` dump, or a lone fragment read as if included
    /// inside `http {}`) and builds the model. Never throws: problems are findings, limits are notes.
    public static func load(hostPath: String, role: ConfigRole, tree: SourceTree) -> LoadResult<WebServerConfig> {
        let config = NginxConfigReader.read(hostPath: hostPath, role: role, tree: tree)
        let display = tree.displayPath(hostPath)
        let fragment = role == .fragment
        // Once http's own level is read the servers are independent, and nginx's directive check
        // only reads the parsed tree: the check and the servers, in chunks, share one pool of
        // threads, so both cores stay busy until the last chunk (a pool inside a pool of two
        // would get one thread: dispatch divides the cores among nested loops).
        var builder = NginxModelBuilder(config: config, sourceTree: tree)
        let plan = builder.plan(mainFile: display, fragment: fragment)
        let chunkCount = min(plan.servers.count, 64), serverCount = plan.servers.count
        let planned = builder
        var parts = ConcurrentSlots<Part>.fill(count: 1 + chunkCount) { index in
            if index == 0 {
                let checked = NginxDirectiveCheck.check(config, fragment: fragment)
                return .check(findings: checked.findings, notes: checked.notes)
            }
            let chunk = index - 1
            return .servers(planned.servers((serverCount * chunk / chunkCount)..<(serverCount * (chunk + 1) / chunkCount), of: plan))
        }
        var built: [NginxModelBuilder.BuiltServers] = []
        built.reserveCapacity(chunkCount)
        var checkFindings: [Finding] = [], checkNotes: [String] = []
        for part in parts {
            switch part {
            case .servers(let servers)?: built.append(servers)
            case .check(let findings, let notes)?: (checkFindings, checkNotes) = (findings, notes)
            case nil: break
            }
        }
        parts = [] // `built` then holds the only references: the hosts are settled in place
        var model = builder.finish(plan, built: &built)
        let builderFindings = builder.findings, builderNotes = builder.notes
        var files: [String] = []
        var seen = Set<String>()
        for file in config.files where file.isRead && seen.insert(file.display).inserted { files.append(file.display) }
        model.files = files
        return LoadResult(model: model, findings: config.findings + builderFindings + checkFindings,
                          notes: config.notes + builderNotes + checkNotes, files: files)
    }

    /// What each concurrent part of a load returns.
    private enum Part {
        case servers(NginxModelBuilder.BuiltServers)
        case check(findings: [Finding], notes: [String])
    }
}
