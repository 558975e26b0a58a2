import Foundation

/// Finding programs by name: PATH first, then the sbin and bin directories root's tools live in
/// (iptables-save, nginx and apache2ctl are in /usr/sbin, which a user's PATH often lacks).
public enum Executables {
    public static func locate(_ name: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/sbin:/usr/bin:/bin:/usr/local/sbin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
