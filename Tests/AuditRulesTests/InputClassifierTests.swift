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

    /// The byte tests of a line's start and end answer as `hasPrefix`/`hasSuffix` (Characters,
    /// canonical equivalence) do: on ASCII lines, and on lines where a combining mark follows the
    /// prefix, a prepended mark precedes the suffix, or a character equivalent to an ASCII one
    /// (Kelvin sign, Greek question mark) stands where the ASCII one is looked for.
    @Test func asciiPrefixAndSuffixAsCharacterComparison() {
        let lines = ["", "#", "# x", "#\u{301} x", "server {", "server{", "server", "server \u{301}{", "listen 80;", "listen 80\u{37E}",
                     "listen 80;\u{301}", "\u{600};", "a\u{600};", "ab\u{37E}", "\u{212A}eep", "keep", "-A INPUT", "-A", "-",
                     "upstream x {", "upstream x \u{600}{", "é;", "x é {", "# configuration file /etc/nginx/nginx.conf:", "ab;\u{0}"]
        let prefixes: [StaticString] = ["", "#", "server {", "server{", "-A ", "Keep", "keep", "upstream ", "# configuration file "]
        let suffixes: [StaticString] = ["", ";", "{", ":", "b;", "ab;", "0;"]
        for line in lines {
            for text in [Substring(line), ("xx" + line + "yy").dropFirst(2).dropLast(2)] {
                for prefix in prefixes {
                    #expect(text.hasASCIIPrefix(prefix) == text.hasPrefix(prefix.description), "\(line) starts with \(prefix)")
                }
                for suffix in suffixes {
                    #expect(text.hasASCIISuffix(suffix) == text.hasSuffix(suffix.description), "\(line) ends with \(suffix)")
                }
            }
        }
    }

    /// However many lines are split before the rest, every file gets the same answer.
    @Test func answerDoesNotDependOnHowManyLinesComeFirst() {
        let filler = Array(repeating: "    listen 80;", count: 30)
        let comments = Array(repeating: "# header", count: 30)
        let files: [[String]] = [
            ["# site", "server {"] + filler + ["}"], comments + ["server {", "}"], comments + ["<VirtualHost *:80>", "</VirtualHost>"],
            comments + ["*filter", ":INPUT ACCEPT [0:0]", "COMMIT"], comments + ["-A INPUT -j ACCEPT"], comments + ["table inet filter {", "}"],
            filler + ["<VirtualHost *:80>"], ["ServerName x"] + comments + ["DocumentRoot /srv"], filler + ["server {"], comments,
            ["server {"] + filler + ["<VirtualHost *:80>"], comments + ["create x hash:ip", "add x 192.0.2.1"], ["# x"] + filler,
        ]
        for lines in files {
            let bytes = Self.text(lines)
            for name in ["/srv/site.conf", "/etc/nginx/sites-enabled/a", "/etc/apache2/sites-enabled/a", "/etc/nginx/nginx.conf"] {
                let answers = Set([1, 2, 4, 16, 31, 40, 400].map { InputClassifier.classify(name: name, bytes: bytes, firstLines: $0) })
                #expect(answers.count == 1, "\(name) \(lines.last!): \(answers)")
            }
        }
    }
}
