import Dispatch
import OriginAuditCore
import Synchronization

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
        // would get one thread: dispatch divides the cores among nested loops). A second pool
        // settles each chunk's listeners once every socket's servers are known.
        var builder = NginxModelBuilder(config: config, sourceTree: tree)
        let plan = builder.plan(mainFile: display, fragment: fragment)
        let chunkCount = min(plan.servers.count, 64), serverCount = plan.servers.count
        let planned = builder
        // Each chunk's slot is filled by the first pool and taken (moved out) by the second.
        let chunks = Mutex([NginxModelBuilder.BuiltServers?](repeating: nil, count: chunkCount))
        let check = Mutex<(findings: [Finding], notes: [String])>(([], []))
        DispatchQueue.concurrentPerform(iterations: 1 + chunkCount) { index in
            if index == 0 {
                let checked = NginxDirectiveCheck.check(config, fragment: fragment)
                check.withLock { $0 = checked }
                return
            }
            let chunk = index - 1
            let built = planned.servers((serverCount * chunk / chunkCount)..<(serverCount * (chunk + 1) / chunkCount), of: plan)
            chunks.withLock { $0[chunk] = built }
        }
        let sockets = NginxModelBuilder.sockets(chunks.withLock { $0.map { $0?.sockets ?? [:] } })
        let settled = ConcurrentSlots<NginxModelBuilder.SettledServers>.fill(count: chunkCount) { chunk in
            guard var built = chunks.withLock({ $0[chunk].take() }) else { return nil }
            return planned.settle(&built, chunk: chunk, sockets: sockets)
        }
        var model = builder.finish(plan, settled: settled.compactMap { $0 })
        let builderFindings = builder.findings, builderNotes = builder.notes
        let (checkFindings, checkNotes) = check.withLock { $0 }
        var files: [String] = []
        var seen = Set<String>()
        for file in config.files where file.isRead && seen.insert(file.display).inserted { files.append(file.display) }
        model.files = files
        let result = LoadResult(model: model, findings: config.findings + builderFindings + checkFindings,
                                notes: config.notes + builderNotes + checkNotes, files: files)
        // What holds the parse trees (most of what the load allocated: 2 ms of one core to free
        // on the bench-nginx tree's 2,000 files), freed on another thread as this one goes on.
        BackgroundRelease.release((config, builder, planned, plan))
        return result
    }
}

extension NginxLoader {
    /// Builds the tables every nginx read needs (directive names and shapes, nginx's built-in
    /// variables: 3 ms of one core) unless a thread has started to. Called where nginx files are
    /// first recognised, on a core that is reading other files: the tables are ready when the
    /// configuration's parse starts, instead of being built at its start while the other core
    /// waits (the main file is parsed alone before the files it includes).
    public static func warmUp() {
        guard warming.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        _ = NginxNameTable.shared
        _ = NginxDirectiveCheck.shapesByNumber
        _ = NginxDirectiveCheck.builtInVariables
    }

    private static let warming = Atomic<Bool>(false)
}
