import Foundation

/// Why a file could not be read.
public enum ReadFailure: Error, Sendable, Hashable, CustomStringConvertible {
    case missing
    case outsideRoot
    case notAFile
    case tooLarge(Int)
    case unreadable(String)

    public var description: String {
        switch self {
        case .missing: "does not exist"
        case .outsideRoot: "is outside --root and was not read"
        case .notAFile: "is not a regular file"
        case .tooLarge(let size): "is too large (\(size) bytes; the limit is \(SourceTree.maxFileSize))"
        case .unreadable(let reason): "cannot be read: \(reason)"
        }
    }
}

/// File access for every parser: maps the absolute paths configs name (`/etc/nginx/...`) under
/// `--root`, refuses anything that resolves outside it (symlinks included), bounds sizes, and
/// renders paths for reports. Read-only by construction.
public struct SourceTree: Sendable {
    public static let maxFileSize = 64 << 20

    /// The directory that absolute config paths resolve under; nil: the real filesystem, unconfined.
    public let root: URL?
    /// Where report paths are made relative to.
    public let base: URL
    private let resolvedRoot: String?
    /// Names to show instead of host paths (live mode shows `live: iptables-save`, not a temp file).
    public var aliases: [String: String] = [:]

    public init(root: URL?, base: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) {
        self.root = root.map { URL(fileURLWithPath: SourceTree.normalise($0.path)) }
        self.base = URL(fileURLWithPath: SourceTree.normalise(base.path))
        resolvedRoot = root.map { $0.resolvingSymlinksInPath().standardizedFileURL.path }
    }

    /// The real path of a path named in a config (absolute, or relative to `directory`).
    public func hostPath(_ configPath: String, relativeTo directory: String? = nil) -> String {
        var path = configPath
        if !path.hasPrefix("/") {
            if let directory { return SourceTree.normalise((directory as NSString).appendingPathComponent(path)) }
            return SourceTree.normalise((base.path as NSString).appendingPathComponent(path))
        }
        path = SourceTree.normalise(path)
        if let root, !isUnderRoot(path) {
            path = (root.path as NSString).appendingPathComponent(String(path.dropFirst()))
        }
        return path
    }

    /// Removes `.`, `..` and repeated slashes lexically, without following symlinks (Foundation's
    /// `standardizingPath` may resolve them, which would hide where a link points from the
    /// root check). `..` never climbs above `/`.
    public static func normalise(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            if component == "." { continue }
            if component == ".." {
                if let last = parts.last, last != ".." { parts.removeLast() } else if !absolute { parts.append(component) }
                continue
            }
            parts.append(component)
        }
        let joined = parts.joined(separator: "/")
        return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    /// Whether a host path is already inside the root (so it is not mapped a second time).
    private func isUnderRoot(_ path: String) -> Bool {
        guard let root else { return true }
        return path == root.path || path.hasPrefix(root.path + "/")
    }

    /// Checks that a host path, after following symlinks, stays inside the root.
    public func isAllowed(_ hostPath: String) -> Bool {
        guard let resolvedRoot else { return true }
        let real = URL(fileURLWithPath: hostPath).resolvingSymlinksInPath().standardizedFileURL.path
        return real == resolvedRoot || real.hasPrefix(resolvedRoot == "/" ? "/" : resolvedRoot + "/")
    }

    /// Reads a whole file (host path), bounded in size.
    public func read(_ hostPath: String) -> Result<[UInt8], ReadFailure> {
        guard isAllowed(hostPath) else { return .failure(.outsideRoot) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: hostPath, isDirectory: &isDirectory) else { return .failure(.missing) }
        if isDirectory.boolValue { return .failure(.notAFile) }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: hostPath) else {
            return .failure(.unreadable("no permission to inspect it"))
        }
        if let type = attributes[.type] as? FileAttributeType, type != .typeRegular, type != .typeSymbolicLink {
            return .failure(.notAFile)
        }
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        if size > SourceTree.maxFileSize { return .failure(.tooLarge(size)) }
        guard let handle = FileHandle(forReadingAtPath: hostPath) else { return .failure(.unreadable("permission denied")) }
        defer { try? handle.close() }
        do {
            let data = try handle.read(upToCount: SourceTree.maxFileSize + 1) ?? Data()
            if data.count > SourceTree.maxFileSize { return .failure(.tooLarge(data.count)) }
            return .success([UInt8](data))
        } catch {
            return .failure(.unreadable("\(error.localizedDescription)"))
        }
    }

    public func exists(_ hostPath: String) -> Bool {
        isAllowed(hostPath) && FileManager.default.fileExists(atPath: hostPath)
    }

    public func isDirectory(_ hostPath: String) -> Bool {
        var isDirectory: ObjCBool = false
        return isAllowed(hostPath) && FileManager.default.fileExists(atPath: hostPath, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// POSIX permission bits of a file, if it can be inspected.
    public func permissions(_ hostPath: String) -> UInt16? {
        guard isAllowed(hostPath), let attributes = try? FileManager.default.attributesOfItem(atPath: hostPath) else { return nil }
        return (attributes[.posixPermissions] as? NSNumber).map { UInt16(truncatingIfNeeded: $0.intValue) }
    }

    /// The entries of a directory (names only), sorted bytewise as `glob(3)` sorts them in the C locale.
    public func listDirectory(_ hostPath: String) -> [String] {
        guard isAllowed(hostPath), let names = try? FileManager.default.contentsOfDirectory(atPath: hostPath) else { return [] }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// Expands a glob over host paths (`*`, `?`, `[...]` in any component), sorted per directory
    /// level bytewise; hidden files match only a pattern that starts with a dot.
    public func glob(_ hostPattern: String) -> [String] {
        let absolute = hostPattern.hasPrefix("/")
        let components = hostPattern.split(separator: "/").map(String.init)
        var current: [String] = [absolute ? "/" : ""]
        for (index, component) in components.enumerated() {
            let last = index == components.count - 1
            var next: [String] = []
            for directory in current {
                if !SourceTree.hasGlobCharacters(component) {
                    let path = directory.isEmpty ? component : (directory as NSString).appendingPathComponent(component)
                    // Literal directories on the way are not checked: under --root, the ancestors of
                    // the root itself are outside it; listing and reading below still check.
                    if !last || exists(path) { next.append(path) }
                    continue
                }
                for name in listDirectory(directory.isEmpty ? "." : directory) {
                    if name.hasPrefix(".") && !component.hasPrefix(".") { continue }
                    guard SourceTree.fnmatch(component, name) else { continue }
                    let path = directory.isEmpty ? name : (directory as NSString).appendingPathComponent(name)
                    if last || isDirectory(path) { next.append(path) }
                }
            }
            current = next
        }
        return current
    }

    public static func hasGlobCharacters(_ text: some StringProtocol) -> Bool {
        text.contains { $0 == "*" || $0 == "?" || $0 == "[" }
    }

    /// Shell-style match of one path component: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`/`[^x]`, `\` escapes.
    public static func fnmatch(_ pattern: String, _ name: String) -> Bool {
        let p = Array(pattern.unicodeScalars), n = Array(name.unicodeScalars)
        var pi = 0, ni = 0
        var starP = -1, starN = 0
        while ni < n.count {
            if pi < p.count {
                switch p[pi] {
                case "*":
                    starP = pi; starN = ni; pi += 1
                    continue
                case "?":
                    pi += 1; ni += 1
                    continue
                case "[":
                    if let (matched, end) = matchClass(p, pi, n[ni]) {
                        if matched { pi = end; ni += 1; continue }
                    } else if n[ni] == "[" {
                        pi += 1; ni += 1; continue
                    }
                case "\\" where pi + 1 < p.count:
                    if p[pi + 1] == n[ni] { pi += 2; ni += 1; continue }
                default:
                    if p[pi] == n[ni] { pi += 1; ni += 1; continue }
                }
            }
            guard starP >= 0 else { return false }
            pi = starP + 1; starN += 1; ni = starN
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    private static func matchClass(_ p: [Unicode.Scalar], _ start: Int, _ c: Unicode.Scalar) -> (Bool, Int)? {
        var i = start + 1
        var negate = false
        if i < p.count && (p[i] == "!" || p[i] == "^") { negate = true; i += 1 }
        var matched = false
        var first = true
        while i < p.count && (p[i] != "]" || first) {
            first = false
            if i + 2 < p.count && p[i + 1] == "-" && p[i + 2] != "]" {
                if p[i] <= c && c <= p[i + 2] { matched = true }
                i += 3
            } else {
                if p[i] == c { matched = true }
                i += 1
            }
        }
        guard i < p.count else { return nil }
        return (matched != negate, i + 1)
    }

    /// How a host path is shown in reports: relative to `base` when inside it, else as is; and
    /// under a root, as the absolute path the config names.
    public func displayPath(_ hostPath: String) -> String {
        let path = SourceTree.normalise(hostPath)
        if let alias = aliases[path] { return alias }
        if path.hasPrefix(base.path + "/") { return String(path.dropFirst(base.path.count + 1)) }
        if let root, root.path != "/", path.hasPrefix(root.path + "/") { return String(path.dropFirst(root.path.count)) }
        return path
    }
}
