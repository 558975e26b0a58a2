import Testing
@testable import Audit

/// The classifier decides from a file's first lines when they suffice, and reads the rest only
/// when a later line may change the answer: a line deciding for Apache anywhere in the first
/// 400 is still seen.
@Suite struct InputClassifierTests {
    static func text(_ lines: [String]) -> [UInt8] { Array((lines.joined(separator: "\n") + "\n").utf8) }

    @Test func apacheDecidingLineAfterTheFirstLinesIsStillSeen() {
        let filler = Array(repeating: "    listen 80;", count: 60)
        for decisive in ["<VirtualHost *:80>", "  LoadModule ssl_module modules/mod_ssl.so", "loadmodule x y"] {
            // Both decide: nginx scores 2 (`server {`), Apache 2: neither wins.
            for bytes in [Self.text(["server {"] + filler + [decisive]), Self.text(["server {", decisive] + filler),
                          Self.text(["# café", "server {"] + filler + [decisive])] {
                #expect(InputClassifier.classify(name: "/srv/site.conf", bytes: bytes) == .unknown, "\(decisive)")
            }
        }
        let nginx = Self.text(["server {"] + filler + ["}", "# <VirtualHost *:80> in a comment", "load_module x;"])
        #expect(InputClassifier.classify(name: "/srv/site.conf", bytes: nginx) == .nginxFragment)
    }

    @Test func lineStartsFoundWithAndWithoutCarriageReturns() {
        let lines = ["server {"] + Array(repeating: "\tlisten 80;", count: 60) + ["\t<VirtualHost *:80>"]
        for separator in ["\n", "\r\n", "\r"] {
            let bytes = Array(lines.joined(separator: separator).utf8)
            #expect(InputClassifier.mayDecideForApache(bytes[...]))
            #expect(InputClassifier.classify(name: "/srv/site.conf", bytes: bytes) == .unknown, "\(separator.utf8.map { $0 })")
        }
        #expect(!InputClassifier.mayDecideForApache(Array("server {\n  listen 80;\n}\n".utf8)[...]))
        #expect(InputClassifier.mayDecideForApache(Array("server {\n  listen 80; # é\n}\n".utf8)[...]))
    }

    @Test func substringSearchFindsWhatAByteLoopFinds() {
        for text in ["", "-", "-----BEGIN", "-----BEGIN ", "x -----BEGIN CERT", "----BEGIN ", "-- -----BEGIN x", "é-----BEGIN é"] {
            let bytes = Array(text.utf8)
            #expect(InputClassifier.contains(bytes[...], "-----BEGIN ") == text.contains("-----BEGIN "), "\(text)")
        }
    }

    /// The file name and the owning server's directory are found on the bytes of an ASCII path:
    /// the same answers as splitting the path into Characters, for every shape of path.
    @Test func pathPartsFoundOnBytesAsBySplitting() {
        let paths = ["", "/", "//", "nginx", "/etc/nginx/", "/etc/nginx//sites/a.conf", "/etc/NGINX/a.conf", "/etc/Apache2/x/y.conf",
                     "/srv/httpd/nginx/site.conf", "/srv/nginx/httpd/site.conf", "apache/", "a//b//", "/etc/nginxx/a", "/etc/ngin/a",
                     "/etc/apache22/a", "/etc/HttpD/conf/httpd.conf", "rel/apache/x", "/x/y.der", "/ü/nginx/a.conf", "/nginx/\u{301}x.conf",
                     "/etc/nginx/\u{301}/a.conf", "/etc/ｎｇｉｎｘ/a.conf", "/etc/\u{212A}/a"]
        for path in paths {
            #expect(InputClassifier.lastComponent(path) == (path.split(separator: "/").last.map(String.init) ?? path), "\(path)")
            #expect(InputClassifier.owner(ofPath: path) == InputClassifier.ownerBySplitting(path), "\(path)")
        }
    }
}
