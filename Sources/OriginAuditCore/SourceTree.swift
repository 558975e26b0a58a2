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
    /// Directories resolved so far, shared by copies of this tree.
    private let directories = ResolvedDirectories()
    /// Names to show instead of host paths (live mode shows `live: iptables-save`, not a temp file).
    public var aliases: [String: String] = [:]

    public init(root: URL?, base: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) {
        self.root = root.map { URL(fileURLWithPath: SourceTree.normalise($0.path)) }
        self.base = URL(fileURLWithPath: SourceTree.normalise(base.path))
        resolvedRoot = root.map { SourceTree.resolvingSymlinks($0.path) }
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
        let real = resolvedPath(hostPath)
        return real == resolvedRoot || real.hasPrefix(resolvedRoot == "/" ? "/" : resolvedRoot + "/")
    }

    /// Where a path really leads. A plain file in an already resolved directory costs one
    /// `lstat`; anything else (a link, `..`, a missing file) is resolved in full.
    private func resolvedPath(_ hostPath: String) -> String {
        guard SourceTree.isPlainAbsolute(hostPath), let slash = hostPath.lastIndex(of: "/"), slash != hostPath.startIndex
        else { return SourceTree.resolvingSymlinks(hostPath) }
        var info = stat()
        guard lstat(hostPath, &info) == 0, (info.st_mode & S_IFMT) != S_IFLNK else { return SourceTree.resolvingSymlinks(hostPath) }
        let directory = String(hostPath[..<slash])
        let resolvedDirectory = directories.resolve(directory)
        return (resolvedDirectory == "/" ? "" : resolvedDirectory) + hostPath[slash...]
    }

    /// Absolute, with no empty, `.` or `..` component (so its text is its lexical meaning).
    static func isPlainAbsolute(_ path: String) -> Bool {
        var bytes = path.utf8.makeIterator()
        guard bytes.next() == UInt8(ascii: "/") else { return false }
        var componentLength = 0, dots = 0
        func plain() -> Bool { componentLength > 0 && !(dots == componentLength && dots <= 2) }
        while let byte = bytes.next() {
            if byte == UInt8(ascii: "/") {
                guard plain() else { return false }
                componentLength = 0
                dots = 0
            } else {
                componentLength += 1
                if byte == UInt8(ascii: ".") { dots += 1 }
            }
        }
        return plain()
    }

    /// The path with every symlink followed (`realpath(3)`); for a path that does not exist, its
    /// deepest existing ancestor is resolved and the rest appended, so a missing file under a
    /// link that leaves the root is still judged by where the link points.
    static func resolvingSymlinks(_ path: String) -> String {
        if let real = realpath(path, nil) {
            defer { free(real) }
            return String(cString: real)
        }
        let normalised = normalise(path)
        guard normalised != "/", normalised != ".", let slash = normalised.lastIndex(of: "/") else { return normalised }
        let parent = slash == normalised.startIndex ? "/" : String(normalised[..<slash])
        let name = normalised[normalised.index(after: slash)...]
        let resolvedParent = resolvingSymlinks(parent)
        return resolvedParent == "/" ? "/" + name : resolvedParent + "/" + name
    }

    /// `stat(2)` of a host path (following symlinks), nil when it cannot be inspected.
    private static func status(_ path: String) -> stat? {
        var info = stat()
        return stat(path, &info) == 0 ? info : nil
    }

    /// Reads a whole file (host path), bounded in size. Opened without blocking (a FIFO named as
    /// a config must not hang the run) and checked through the open descriptor.
    public func read(_ hostPath: String) -> Result<[UInt8], ReadFailure> {
        guard isAllowed(hostPath) else { return .failure(.outsideRoot) }
        let descriptor = open(hostPath, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard descriptor >= 0 else {
            switch errno {
            case ENOENT, ENOTDIR, ELOOP: return .failure(.missing)
            case EACCES, EPERM: return .failure(.unreadable("permission denied"))
            default: return .failure(.unreadable(String(cString: strerror(errno))))
            }
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return .failure(.unreadable("no permission to inspect it")) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return .failure(.notAFile) }
        let size = Int(info.st_size)
        if size > SourceTree.maxFileSize { return .failure(.tooLarge(size)) }
        var bytes = [UInt8](repeating: 0, count: size + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { buffer in
                readDescriptor(descriptor, buffer.baseAddress! + count, buffer.count - count)
            }
            if got < 0 {
                if errno == EINTR { continue }
                return .failure(.unreadable(String(cString: strerror(errno))))
            }
            if got == 0 { break }
            count += got
            // The file grew while being read: keep reading up to the limit.
            if count == bytes.count && count <= SourceTree.maxFileSize {
                bytes.append(contentsOf: [UInt8](repeating: 0, count: min(bytes.count, SourceTree.maxFileSize + 1 - bytes.count)))
            }
        }
        if count > SourceTree.maxFileSize { return .failure(.tooLarge(count)) }
        bytes.removeSubrange(count...)
        return .success(bytes)
    }

    public func exists(_ hostPath: String) -> Bool {
        isAllowed(hostPath) && SourceTree.status(hostPath) != nil
    }

    public func isDirectory(_ hostPath: String) -> Bool {
        guard isAllowed(hostPath), let info = SourceTree.status(hostPath) else { return false }
        return (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// POSIX permission bits of a file, if it can be inspected.
    public func permissions(_ hostPath: String) -> UInt16? {
        guard isAllowed(hostPath), let info = SourceTree.status(hostPath) else { return nil }
        return UInt16(truncatingIfNeeded: info.st_mode & 0o7777)
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

/// `read(2)`, under a name the `read` method above does not shadow.
private func readDescriptor(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}

/// Real paths of directories, resolved once each (a run reads thousands of files from a few).
final class ResolvedDirectories: @unchecked Sendable {
    private let lock = NSLock()
    private var known: [String: String] = [:]

    func resolve(_ directory: String) -> String {
        lock.lock()
        if let real = known[directory] { lock.unlock(); return real }
        lock.unlock()
        let real = SourceTree.resolvingSymlinks(directory)
        lock.lock()
        known[directory] = real
        lock.unlock()
        return real
    }
}
