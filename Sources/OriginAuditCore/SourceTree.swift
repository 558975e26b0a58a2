import Foundation
import Synchronization

/// Why a file could not be read.
public enum ReadFailure: Error, Sendable, Hashable, CustomStringConvertible {
    case missing
    case outsideRoot
    case notAFile
    case tooLarge(Int)
    case unreadable(String)
    /// Symbolic links that lead back to themselves (more than `SourceTree.maxSymlinks` followed).
    case symlinkLoop

    public var description: String {
        switch self {
        case .missing: "does not exist"
        case .outsideRoot: "is outside --root and was not read"
        case .notAFile: "is not a regular file and was not read"
        case .tooLarge(let size): "is too large (\(size) bytes; the limit is \(SourceTree.maxFileSize))"
        case .unreadable(let reason): "cannot be read: \(reason)"
        case .symlinkLoop: "is a symbolic link loop and was not read"
        }
    }
}

/// File access for every parser: maps the absolute paths configs name (`/etc/nginx/...`) under
/// `--root`, follows symbolic links the way the audited host would (an absolute target is a
/// path on that host, so it too resolves under the root, and `..` never climbs above it), bounds
/// sizes, never blocks on a FIFO or device, and renders paths for reports. Read-only by construction.
///
/// The path rule: what the user typed on the command line (`given`) is read as given; every
/// path named inside the scanned tree resolves under the root and never leaves it.
public struct SourceTree: Sendable {
    public static let maxFileSize = 64 << 20
    /// Links followed while resolving one path before it is called a loop (Linux's MAXSYMLINKS).
    public static let maxSymlinks = 40

    /// The directory that absolute config paths resolve under; nil: the real filesystem, unconfined.
    public let root: URL?
    /// Where report paths are made relative to.
    public let base: URL
    private let resolvedRoot: String?
    /// `root` and `base` as paths: every path check compares against them, and `URL.path`
    /// rebuilds its string on each call.
    private let rootPath: String?
    private let basePath: String
    /// Directories resolved so far, shared by copies of this tree.
    private let directories = PathTable<ResolvedDirectory>()
    /// Directories whose resolution under the root follows no symbolic link, by whether it does:
    /// a missing file in one is explained without walking its path again. Shared by copies of this tree.
    private let linkFreeDirectories = PathTable<ResolvedDirectory>()
    /// Files confined so far, with their mode: a file is looked up by the walk, the reader and
    /// the loaders (real path, type, permissions), and resolved once. Shared by copies of this tree.
    private let files = PathTable<ResolvedFile>()
    /// Files read whole already, waiting for the reader that parses them (the walk reads every
    /// file to recognise it; the web-server loaders read them again by name). Shared by copies of this tree.
    private let handedOver = PathTable<[UInt8]>()
    /// Directories the input walk listed, their names sorted, until the tree forgets its
    /// resolutions: an include glob lists the same directory again as a configuration is read
    /// (2,000 site files: 1.7 ms while the other core waited), and sees what the walk saw, as a
    /// loader reads the bytes the walk read (`handOver`). Shared by copies of this tree.
    private let listings = PathTable<[String]>()
    /// Names to show instead of host paths (live mode shows `live: iptables-save`, not a temp file).
    public var aliases: [String: String] = [:]
    /// Absolute paths the user typed on the command line (files or directories): read as given,
    /// wherever they are. Files found by walking a given directory are given too, unless they are
    /// reached through a symbolic link that leaves it.
    public private(set) var given: Set<String> = []
    /// When set, every file read and every directory found is recorded (`scan --live --save`
    /// copies what the audit read). Shared by copies of this tree.
    public var readLog: ReadLog?

    public init(root: URL?, base: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) {
        self.root = root.map { URL(fileURLWithPath: SourceTree.normalise($0.path)) }
        self.base = URL(fileURLWithPath: SourceTree.normalise(base.path))
        resolvedRoot = root.map { SourceTree.resolvingSymlinks($0.path) }
        rootPath = self.root?.path
        basePath = self.base.path
    }

    /// A path typed on the command line: relative to the current directory, never re-rooted.
    /// Returns its host path.
    @discardableResult
    public mutating func addGiven(_ path: String) -> String {
        let hostPath = SourceTree.normalise(path.hasPrefix("/") ? path : (basePath as NSString).appendingPathComponent(path))
        given.insert(hostPath)
        return hostPath
    }

    /// The real path of a path named in a config (absolute, or relative to `directory`). Under a
    /// root, the result is always inside it: an absolute path is mapped under it, and `..` in a
    /// relative one stops at it, as it stops at `/` on the audited host.
    public func hostPath(_ configPath: String, relativeTo directory: String? = nil) -> String {
        var path = configPath
        if !path.hasPrefix("/") {
            let directory = directory ?? basePath
            guard let root = rootPath, root != "/", isUnderRoot(directory) else {
                return SourceTree.normalise((directory as NSString).appendingPathComponent(path))
            }
            // Joined as the host sees it (the directory's path on the host), then mapped back.
            let hostDirectory = directory == root ? "/" : String(directory.dropFirst(root.count))
            path = SourceTree.normalise((hostDirectory as NSString).appendingPathComponent(path))
            return path == "/" ? root : root + path
        }
        path = SourceTree.normalise(path)
        if let root = rootPath, !isUnderRoot(path), !given.contains(path) {
            path = (root as NSString).appendingPathComponent(String(path.dropFirst()))
        }
        return path
    }

    /// Removes `.`, `..` and repeated slashes lexically, without following symlinks (Foundation's
    /// `standardizingPath` may resolve them, which would hide where a link points from the
    /// root check). `..` never climbs above `/`.
    public static func normalise(_ path: String) -> String {
        if isNormalised(path) { return path }
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

    /// Whether `normalise` would return the path as it is (no empty, `.` or `..` component, no
    /// trailing slash), decided on its bytes: nearly every path read is, and is then not split.
    static func isNormalised(_ path: String) -> Bool {
        UTF8Bytes.of(path, isNormalised)
    }

    /// `isNormalised` on the path's bytes (in place: iterating a String's UTF-8 view costs
    /// several times as much per byte).
    private static func isNormalised(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        var length = 0, dots = 0, isFirst = true
        for byte in bytes {
            if byte == slash {
                // An empty component is fine only before a leading slash.
                if length == 0 && !isFirst { return false }
                if length > 0 && length == dots && length <= 2 { return false }
                length = 0
                dots = 0
            } else {
                length += 1
                if byte == dot { dots += 1 }
            }
            isFirst = false
        }
        if bytes.count == 1 && bytes[0] == slash { return true }
        return length > 0 && !(length == dots && length <= 2)
    }

    /// Whether a host path is already inside the root (so it is not mapped a second time).
    private func isUnderRoot(_ path: String) -> Bool {
        guard let root = rootPath else { return true }
        if path == root { return true }
        // `path.hasPrefix(root + "/")` on the bytes (paths are bytes), without making that string.
        let bytes = path.utf8, prefix = root.utf8
        guard bytes.count > prefix.count, bytes.starts(with: prefix) else { return false }
        return bytes[bytes.index(bytes.startIndex, offsetBy: prefix.count)] == UInt8(ascii: "/")
    }

    /// Whether a host path may be read: anything without a root; a path the user gave; any path
    /// inside the root (links inside it are followed under the root, so they cannot leave it).
    public func isAllowed(_ hostPath: String) -> Bool {
        if case .success = confined(hostPath) { return true }
        return false
    }

    /// Where a host path really leads, with the links followed on the way: under a root, links
    /// are followed inside it; a path the user gave (or one found below a directory they gave)
    /// is followed as the system follows it.
    public func confined(_ hostPath: String) -> Result<String, ReadFailure> { inspect(hostPath).real }

    /// `confined`, with the file's `st_mode` when resolving it already saw it (nil: not seen).
    /// An existing file under the root is resolved once per run and remembered.
    /// `absent`: resolving it found that it does not exist (nothing to `stat`).
    private func inspect(_ hostPath: String) -> (real: Result<String, ReadFailure>, mode: mode_t?, absent: Bool) {
        guard resolvedRoot != nil, let root = rootPath else { return (.success(hostPath), nil, false) }
        if let known = files[hostPath] { return (.success(known.real), known.mode, false) }
        let path = SourceTree.normalise(hostPath)
        if isUnderRoot(path) {
            if path == root { return (.success(resolvedRoot!), nil, false) }
            let resolution = resolveUnderRoot(path)
            // Only what exists is remembered: a file that appears later is still found.
            if case .success(let real) = resolution.result, let mode = resolution.mode {
                files.record(hostPath, ResolvedFile(real: real, mode: mode))
            }
            return (resolution.result, resolution.mode, resolution.absent)
        }
        if given.contains(path) { return (.success(path), nil, false) }
        // Below a directory the user gave: read as given while the real path stays below it.
        for directory in given where path.hasPrefix(directory == "/" ? "/" : directory + "/") {
            let realDirectory = SourceTree.resolvingSymlinks(directory)
            let real = SourceTree.resolvingSymlinks(path)
            if real.hasPrefix(realDirectory == "/" ? "/" : realDirectory + "/") { return (.success(real), nil, false) }
        }
        return (.failure(.outsideRoot), nil, false)
    }

    /// Why a named file cannot be read, for messages: where its links led (as paths on the
    /// audited host) and what stopped the read.
    public func explainMissing(_ hostPath: String) -> String {
        let path = SourceTree.normalise(hostPath)
        guard let root = rootPath, resolvedRoot != nil, isUnderRoot(path), path != root else {
            switch confined(path) {
            case .failure(.outsideRoot):
                // Name where its links really lead, when they do (a link out of a directory the user gave).
                let real = SourceTree.resolvingSymlinks(path)
                if real != path { return "leads through a symbolic link to \(real), which \(ReadFailure.outsideRoot)" }
                if let target = SourceTree.linkTarget(path) { return "is a symbolic link to \(target), which \(ReadFailure.outsideRoot)" }
                return ReadFailure.outsideRoot.description
            case .failure(let failure): return failure.description
            case .success(let real):
                var info = stat()
                if stat(real, &info) != 0 && errno == ELOOP { return ReadFailure.symlinkLoop.description }
                if let target = SourceTree.linkTarget(real) { return "is a symbolic link to \(target), which does not exist" }
                return ReadFailure.missing.description
            }
        }
        // A missing name in a directory reached without a link (a configuration naming thousands
        // of absent certificates): the walk below would follow no link either and say "missing".
        if SourceTree.isPlainAbsolute(path), let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")),
           path.utf8.distance(from: path.startIndex, to: slash) > root.utf8.count {
            let name = path[path.index(after: slash)...]
            let directory = String(path[..<slash])
            var info = stat()
            if let (real, absent) = linkFreeReal(directory, root: root), absent || (lstat(real + "/" + name, &info) != 0 && errno == ENOENT) {
                return ReadFailure.missing.description
            }
        }
        let resolution = resolveUnderRoot(path, recordLinks: true)
        if case .failure(let failure) = resolution.result { return failure.description }
        guard let last = resolution.links.last else { return ReadFailure.missing.description }
        return "is a symbolic link to \(last.target) (read under --root as \(displayPath(resolution.hostPath))), which does not exist"
    }

    /// A file a configuration names, as a loader needs it: its permission bits when it exists;
    /// otherwise whether the path rule lets it be read (`isAllowed`) and why it cannot be
    /// (`explainMissing`'s words).
    public enum NamedFile: Sendable, Equatable {
        case present(permissions: UInt16)
        case absent(allowed: Bool, reason: String)
    }

    /// `permissions`, `isAllowed` and `explainMissing` of one path from one resolution (the
    /// certificate loader asks all three of thousands of missing files).
    public func namedFile(_ hostPath: String) -> NamedFile {
        var absentDirectory: String?
        return namedFile(hostPath, absentDirectory: &absentDirectory)
    }

    /// `namedFile(hostPath)` for one of a run of paths: `absentDirectory` is the last directory
    /// of the run found not to exist by the plain-path look-up below, and a plain name in it is
    /// answered without looking again (a certificate and its key are named in one directory:
    /// half of 10,000 look-ups, each through the table both cores share).
    public func namedFile(_ hostPath: String, absentDirectory: inout String?) -> NamedFile {
        if let directory = absentDirectory, let name = SourceTree.below(hostPath, directory),
           name != ".", name != "..", !name.utf8.contains(UInt8(ascii: "/")) {
            return .absent(allowed: true, reason: ReadFailure.missing.description)
        }
        // A plain path in a directory under the root that does not exist and is reached without a
        // symbolic link (thousands of certificates named in directories that are not there): what
        // `inspect` and `explainMissing` would each find by resolving it, from the directory's
        // remembered answer.
        if let root = rootPath, SourceTree.isPlainAbsolute(hostPath), isUnderRoot(hostPath),
           let slash = hostPath.utf8.lastIndex(of: UInt8(ascii: "/")), hostPath.utf8.distance(from: hostPath.startIndex, to: slash) > root.utf8.count {
            let directory = String(hostPath[..<slash])
            if let (_, absent) = linkFreeReal(directory, root: root), absent {
                absentDirectory = directory
                return .absent(allowed: true, reason: ReadFailure.missing.description)
            }
        }
        // With no root, a plain path is read as the system reads it: one `lstat` tells a missing
        // file (no link at its end: `stat` would fail alike, `readlink` would find no link, so
        // `explainMissing` says "does not exist") and a present one that is no link (its `stat`)
        // from the rest, which are answered below (a link, a loop).
        if resolvedRoot == nil, SourceTree.isPlainAbsolute(hostPath) {
            var info = stat()
            if lstat(hostPath, &info) != 0 {
                if errno == ENOENT || errno == ENOTDIR { return .absent(allowed: true, reason: ReadFailure.missing.description) }
            } else if (info.st_mode & S_IFMT) != S_IFLNK {
                return .present(permissions: UInt16(truncatingIfNeeded: info.st_mode & 0o7777))
            }
        }
        let inspected = inspect(hostPath)
        guard case .success(let real) = inspected.real else { return .absent(allowed: false, reason: explainMissing(hostPath)) }
        if !inspected.absent {
            var mode = inspected.mode
            if mode == nil {
                var info = stat()
                if stat(real, &info) == 0 { mode = info.st_mode }
            }
            if let mode { return .present(permissions: UInt16(truncatingIfNeeded: mode & 0o7777)) }
        }
        return .absent(allowed: true, reason: explainMissing(hostPath))
    }

    /// Where a plain absolute directory under the root is, when reaching it follows no symbolic
    /// link (each of its components is a directory that is no link, or missing): nil otherwise;
    /// `absent` when it does not exist. One `lstat` per directory per run, its parent's answer
    /// reused (none below a directory that does not exist).
    private func linkFreeReal(_ directory: String, root: String) -> (real: String, absent: Bool)? {
        guard let resolvedRoot else { return nil }
        if directory == root { return (resolvedRoot == "/" ? "" : resolvedRoot, false) }
        let answer = linkFreeDirectories.resolve(directory) {
            guard let slash = directory.utf8.lastIndex(of: UInt8(ascii: "/")) else { return (.failure(.missing), false) }
            let parent = directory.utf8.distance(from: directory.startIndex, to: slash) > root.utf8.count ? String(directory[..<slash]) : root
            guard let (parentReal, parentAbsent) = linkFreeReal(parent, root: root) else { return (.failure(.missing), false) }
            let real = parentReal + "/" + directory[directory.index(after: slash)...]
            if parentAbsent { return (.success(real), true) }
            var info = stat()
            if lstat(real, &info) != 0 { return errno == ENOENT ? (.success(real), true) : (.failure(.missing), false) }
            return (info.st_mode & S_IFMT) == S_IFDIR ? (.success(real), false) : (.failure(.missing), false)
        }
        if case .success(let real) = answer.result { return (real, answer.absent) }
        return nil
    }

    /// Resolves a path inside the root component by component: an absolute link target restarts
    /// at the root, `..` stops at it. Returns the real path (inside the real root), or a loop;
    /// `mode`: the real file's `st_mode` when the last step looked at it (nil when it is missing);
    /// `absent`: the path does not exist (it or a directory on its way is not there).
    private func resolveUnderRoot(_ path: String, recordLinks: Bool = false)
        -> (result: Result<String, ReadFailure>, hostPath: String, links: [(link: String, target: String)], mode: mode_t?, absent: Bool) {
        guard let root = rootPath, let resolvedRoot else { return (.success(path), path, [], nil, false) }
        // The directory part is shared by many files and resolved once; a plain last component costs one lstat.
        if !recordLinks, let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")), path.utf8.distance(from: path.startIndex, to: slash) > root.utf8.count {
            let name = path[path.index(after: slash)...]
            if name != ".", name != "..", SourceTree.isPlainAbsolute(path) {
                let directory = String(path[..<slash])
                let resolvedDirectory = directories.resolve(directory) {
                    let resolution = resolveUnderRoot(directory)
                    return (resolution.result, resolution.absent)
                }
                guard case .success(let real) = resolvedDirectory.result else { return (resolvedDirectory.result, path, [], nil, false) }
                // Where the directory is itself (no link on the way), so is the file: the path given
                // (whose storage its caller keeps) rather than a copy of it, which the resolution
                // cache held for every file of a large walk (1.4 MB for 10,000 certificates).
                let candidate = real == directory ? path : real + "/" + name
                // In a directory that is not there: nothing to look at (thousands of certificates
                // named in directories that do not exist are each looked up several times).
                if resolvedDirectory.absent { return (.success(candidate), path, [], nil, true) }
                var info = stat()
                // Not a link: its lstat is its stat.
                if lstat(candidate, &info) != 0 { return (.success(candidate), path, [], nil, errno == ENOENT || errno == ENOTDIR) }
                if (info.st_mode & S_IFMT) != S_IFLNK { return (.success(candidate), path, [], info.st_mode, false) }
            }
        }
        let realRoot = resolvedRoot == "/" ? "" : resolvedRoot
        var done: [Substring] = []
        var pending = Array(path.dropFirst(root.count).split(separator: "/").reversed())
        var links: [(link: String, target: String)] = []
        var followed = 0
        var missing = false
        // A component that is not there: the path is not either, unless a `..` climbs back out.
        var absent = false
        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." {
                if !done.isEmpty { done.removeLast() }
                absent = false
                continue
            }
            done.append(component)
            if missing { continue }
            let candidate = realRoot + "/" + done.joined(separator: "/")
            var info = stat()
            guard lstat(candidate, &info) == 0 else {
                missing = true
                absent = errno == ENOENT || errno == ENOTDIR
                continue
            }
            guard (info.st_mode & S_IFMT) == S_IFLNK else { continue }
            followed += 1
            guard followed <= SourceTree.maxSymlinks, let target = SourceTree.linkTarget(candidate) else {
                return (.failure(.symlinkLoop), path, links, nil, false)
            }
            done.removeLast()
            if recordLinks { links.append(("/" + done.joined(separator: "/") + (done.isEmpty ? "" : "/") + component, target)) }
            if target.hasPrefix("/") { done.removeAll() }
            pending += target.split(separator: "/").reversed()
        }
        let inside = "/" + done.joined(separator: "/")
        return (.success(realRoot + (inside == "/" ? (realRoot.isEmpty ? "/" : "") : inside)),
                root == "/" ? inside : root + (inside == "/" ? "" : inside), links, nil, absent)
    }

    /// The target of a symbolic link, as written; nil when the path is not a link.
    static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether a path is itself a symbolic link (not followed).
    public func isSymbolicLink(_ hostPath: String) -> Bool {
        var info = stat()
        return lstat(hostPath, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
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

    /// `stat(2)` of a host path (links followed as `confined` follows them), nil when it cannot
    /// be inspected or may not be read.
    private func status(_ hostPath: String) -> mode_t? {
        let inspected = inspect(hostPath)
        guard case .success(let real) = inspected.real, !inspected.absent else { return nil }
        if let mode = inspected.mode { return mode }
        var info = stat()
        return stat(real, &info) == 0 ? info.st_mode : nil
    }

    /// Reads a whole file (host path), bounded in size. Opened without blocking (a FIFO or a
    /// device must not hang the run) and checked through the open descriptor.
    public func read(_ hostPath: String) -> Result<[UInt8], ReadFailure> {
        read(hostPath, limit: SourceTree.maxFileSize, whole: true)
    }

    /// Keeps the bytes just read from a file (`read(hostPath)`) for the next `read` of that file,
    /// by this or any copy of this tree: the next reader gets them instead of reading the file
    /// again, and they are forgotten then (so their memory goes with that reader's use of them).
    /// A path that cannot be read is not kept. The next `read` applies every rule `read`
    /// applies to the path it is given (it must lead to this same file, inside the root) and
    /// only then takes the bytes instead of opening the file.
    public func handOver(_ hostPath: String, _ bytes: [UInt8]) {
        guard case .success(let real) = inspect(hostPath).real else { return }
        handedOver.record(real, bytes)
    }

    /// Forgets the bytes `handOver` kept that no reader took.
    public func forgetHandedOver() { handedOver.removeAll() }

    /// Forgets every path resolved so far (they are resolved again when asked): a run that has
    /// read its inputs keeps no memory of the tens of thousands of paths it looked at.
    public func forgetResolutions() {
        // Taken out here, freed on another thread (tens of thousands of entries).
        BackgroundRelease.release((files.takeAll(), directories.takeAll(), linkFreeDirectories.takeAll(), listings.takeAll()))
    }

    /// The first bytes of a file (at most `count`), with the same rules as `read`.
    public func head(_ hostPath: String, count: Int) -> Result<[UInt8], ReadFailure> {
        read(hostPath, limit: count, whole: false)
    }

    private func read(_ hostPath: String, limit: Int, whole: Bool) -> Result<[UInt8], ReadFailure> {
        let real: String
        let inspected = inspect(hostPath)
        switch inspected.real {
        case .success(let path): real = path
        case .failure(let failure): return .failure(failure)
        }
        if whole, let bytes = handedOver.take(real) {
            readLog?.record(hostPath, .read)
            return .success(bytes)
        }
        // A file resolved under the root (its mode known) was no link when resolved: one that has
        // become a link since is not followed.
        let descriptor = open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (inspected.mode == nil ? 0 : O_NOFOLLOW))
        guard descriptor >= 0 else {
            switch errno {
            case ENOENT, ENOTDIR: return .failure(.missing)
            case ELOOP: return .failure(.symlinkLoop)
            case EACCES, EPERM: return .failure(.unreadable("permission denied"))
            default: return .failure(.unreadable(String(cString: strerror(errno))))
            }
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return .failure(.unreadable("no permission to inspect it")) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return .failure(.notAFile) }
        let size = Int(info.st_size)
        if whole && size > limit { return .failure(.tooLarge(size)) }
        var bytes = [UInt8](repeating: 0, count: min(size, limit) + 1)
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
            if count == bytes.count && count <= limit {
                bytes.append(contentsOf: [UInt8](repeating: 0, count: min(bytes.count, limit + 1 - bytes.count)))
            }
        }
        if count > limit {
            if whole { return .failure(.tooLarge(count)) }
            count = limit
        }
        bytes.removeSubrange(count...)
        readLog?.record(hostPath, .read)
        return .success(bytes)
    }

    public func exists(_ hostPath: String) -> Bool {
        guard let mode = status(hostPath) else { return false }
        readLog?.record(hostPath, (mode & S_IFMT) == S_IFDIR ? .directory : .present)
        return true
    }

    public func isDirectory(_ hostPath: String) -> Bool {
        guard let mode = status(hostPath) else { return false }
        let directory = (mode & S_IFMT) == S_IFDIR
        readLog?.record(hostPath, directory ? .directory : .present)
        return directory
    }

    /// POSIX permission bits of a file, if it can be inspected.
    public func permissions(_ hostPath: String) -> UInt16? {
        guard let mode = status(hostPath) else { return nil }
        return UInt16(truncatingIfNeeded: mode & 0o7777)
    }

    /// The path a host path really leads to (links followed under the root), for telling two
    /// names of one file apart; the path itself when it cannot be resolved.
    public func realPath(_ hostPath: String) -> String {
        guard case .success(let real) = confined(hostPath) else { return hostPath }
        return root == nil ? SourceTree.resolvingSymlinks(real) : real
    }

    /// The entries of a directory (names only), sorted bytewise as `glob(3)` sorts them in the C locale.
    /// `remember`: kept for the next listing of the same directory until `forgetResolutions`
    /// (the input walk's listings); a directory listed without it is listed afresh each time.
    public func listDirectory(_ hostPath: String, remember: Bool = false) -> [String] {
        if let listed = listings[hostPath] {
            readLog?.record(hostPath, .directory)
            return listed
        }
        guard case .success(let real) = confined(hostPath), let names = try? FileManager.default.contentsOfDirectory(atPath: real) else { return [] }
        readLog?.record(hostPath, .directory)
        let sorted = names.sorted(by: ByteOrder.precedes)
        if remember { listings.record(hostPath, sorted) }
        return sorted
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
                    // (A listed name holds no slash: joined as NSString's appendingPathComponent
                    // joins it, without going through NSString for each of thousands of names.)
                    let path = directory.isEmpty ? name : directory.hasSuffix("/") ? directory + name : directory + "/" + name
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
        // `*` and a literal end (`*.conf`, the usual include): whether the name ends so, on the
        // bytes (a scalar sequence ends a string exactly when its UTF-8 ends the string's).
        let bytes = pattern.utf8
        if bytes.first == UInt8(ascii: "*") {
            let end = bytes.dropFirst()
            if !end.contains(where: { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "\\") }) {
                return name.utf8.count >= end.count && name.utf8.suffix(end.count).elementsEqual(end)
            }
        }
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
        if !aliases.isEmpty, let alias = aliases[path] { return alias }
        if let inside = SourceTree.below(path, basePath) { return String(inside) }
        if let root = rootPath, root != "/", let inside = SourceTree.below(path, root) { return "/" + inside }
        return path
    }

    /// What follows `directory` and a slash in `path`, compared byte by byte (paths are bytes;
    /// counting characters to cut one costs more than the rest of the call).
    static func below(_ path: String, _ directory: String) -> Substring? {
        let bytes = path.utf8, prefix = directory.utf8
        guard bytes.count > prefix.count + 1, bytes.starts(with: prefix) else { return nil }
        let slash = bytes.index(bytes.startIndex, offsetBy: prefix.count)
        guard bytes[slash] == UInt8(ascii: "/") else { return nil }
        return Substring(bytes[bytes.index(after: slash)...])
    }
}

/// `read(2)`, under a name the `read` method above does not shadow.
private func readDescriptor(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}

/// The paths a run looked at, by host path: files read, directories listed or found, files
/// only checked for existence. Thread-safe; shared by every copy of the tree that holds it.
public final class ReadLog: @unchecked Sendable {
    /// How a path was used; a later, stronger use (a read after an existence check) wins.
    public enum Use: Int, Sendable, Comparable {
        case present, directory, read
        public static func < (a: Use, b: Use) -> Bool { a.rawValue < b.rawValue }
    }

    private let lock = NSLock()
    private var uses: [String: Use] = [:]

    public init() {}

    func record(_ hostPath: String, _ use: Use) {
        let path = SourceTree.normalise(hostPath)
        lock.lock()
        if uses[path].map({ $0 < use }) ?? true { uses[path] = use }
        lock.unlock()
    }

    /// Every path recorded, sorted bytewise.
    public var entries: [(path: String, use: Use)] {
        lock.lock()
        defer { lock.unlock() }
        return uses.map { ($0.key, $0.value) }.sorted { ByteOrder.precedes($0.path, $1.path) }
    }
}

/// What a tree has learnt about paths (resolved files and directories, bytes handed over), by
/// path: shared by copies of the tree and by the loaders' threads.
final class PathTable<Value: Sendable>: Sendable {
    private let known = Mutex<[String: Value]>([:])

    subscript(path: String) -> Value? { known.withLock { $0[path] } }

    func record(_ path: String, _ value: Value) { known.withLock { $0[path] = value } }

    /// The value for `path`, forgotten as it is taken.
    func take(_ path: String) -> Value? { known.withLock { $0.removeValue(forKey: path) } }

    /// The value for `path`, made by `make` the first time (outside the lock: `make` may ask
    /// this table about other paths, as a directory's resolution asks about its parent's).
    func resolve(_ path: String, _ make: () -> Value) -> Value {
        if let value = self[path] { return value }
        let value = make()
        record(path, value)
        return value
    }

    func removeAll() { known.withLock { $0 = [:] } }

    /// Every entry, taken out (the table is left empty).
    func takeAll() -> [String: Value] {
        known.withLock { table in
            let all = table
            table = [:]
            return all
        }
    }
}

/// A file confined under the root: its real path and mode.
struct ResolvedFile: Sendable {
    var real: String
    var mode: mode_t
}

/// A directory's real path (or why it has none), and whether it is absent.
typealias ResolvedDirectory = (result: Result<String, ReadFailure>, absent: Bool)
