import OriginAuditCore

/// Loads nginx configurations into the shared model.
public enum NginxLoader {
    /// Reads `hostPath` (nginx.conf, an `nginx -T` dump, or a lone fragment read as if included
    /// inside `http {}`) and builds the model. Never throws: problems are findings, limits are notes.
    public static func load(hostPath: String, role: ConfigRole, tree: SourceTree) -> LoadResult<WebServerConfig> {
        let config = NginxConfigReader.read(hostPath: hostPath, role: role, tree: tree)
        let display = tree.displayPath(hostPath)
        let fragment = role == .fragment
        // The model and nginx's directive check only read the parsed tree: built side by side.
        let parts = ConcurrentSlots<Part>.fill(count: 2) { index in
            if index == 1 {
                let checked = NginxDirectiveCheck.check(config, fragment: fragment)
                return .check(findings: checked.findings, notes: checked.notes)
            }
            var builder = NginxModelBuilder(config: config, sourceTree: tree)
            let model = builder.build(mainFile: display, fragment: fragment)
            return .model(model, findings: builder.findings, notes: builder.notes)
        }
        var model = WebServerConfig(software: .nginx, mainFile: display)
        var builderFindings: [Finding] = [], builderNotes: [String] = [], checkFindings: [Finding] = [], checkNotes: [String] = []
        for part in parts {
            switch part {
            case .model(let built, let findings, let notes)?: (model, builderFindings, builderNotes) = (built, findings, notes)
            case .check(let findings, let notes)?: (checkFindings, checkNotes) = (findings, notes)
            case nil: break
            }
        }
        var files: [String] = []
        var seen = Set<String>()
        for file in config.files where file.isRead && seen.insert(file.display).inserted { files.append(file.display) }
        model.files = files
        return LoadResult(model: model, findings: config.findings + builderFindings + checkFindings,
                          notes: config.notes + builderNotes + checkNotes, files: files)
    }

    /// What each of the two concurrent parts of a load returns.
    private enum Part {
        case model(WebServerConfig, findings: [Finding], notes: [String])
        case check(findings: [Finding], notes: [String])
    }
}
