import Foundation
import OriginAuditCore
import Testing
import TestSupport
@testable import WebServer

@Suite("Apache lexer and reader")
struct ApacheParserTests {
    private func lines(_ text: String) -> [ApacheLine] { ApacheSyntax.lines(Array(text.utf8)) }

    @Test func joinsContinuationLinesAndKeepsBothLineNumbers() {
        let result = lines("ServerName a \\\n   b\n  ServerAlias c\r\n")
        #expect(result.count == 2)
        #expect(String(decoding: result[0].text, as: UTF8.self) == "ServerName a    b")
        #expect((result[0].line, result[0].column, result[0].httpdLine) == (1, 1, 2))
        #expect((result[1].line, result[1].column, result[1].httpdLine) == (3, 3, 3))
    }

    @Test func aBackslashFollowedBySpaceDoesNotContinue() {
        #expect(lines("A \\ \nB\n").count == 2)
    }

    @Test func aCommentEndingInBackslashSwallowsTheNextLine() throws {
        let root = try ApacheFixture.write(["main.conf": "# note \\\nServerAlias hidden\nServerName shown\n"])
        defer { try? FileManager.default.removeItem(at: root) }
        let (directives, _) = ApacheFixture.read(root.appendingPathComponent("main.conf"))
        #expect(directives.map(\.name) == ["ServerName"])
    }

    @Test func wordsFollowHttpdQuoting() {
        let words = ApacheSyntax.words(Array(#"Header set "a \"b\" c" 'it\'s' bare\\x "#.utf8))
        #expect(words == ["Header", "set", #"a "b" c"#, "it's", #"bare\x"#])
        #expect(ApacheSyntax.words(Array(#"A "unterminated rest"#.utf8)) == ["A", "unterminated rest"])
        #expect(ApacheSyntax.words(Array("Redirect / http://x/#frag".utf8)).last == "http://x/#frag")
    }

    @Test func sectionsNestWithCaseInsensitiveCloseTags() throws {
        let root = try ApacheFixture.write(["main.conf": """
            <VirtualHost *:80>
              ServerName a.example
              <directory /var/www>
                Require all granted
              </DIRECTORY>
            </virtualhost>
            """])
        defer { try? FileManager.default.removeItem(at: root) }
        let (directives, reader) = ApacheFixture.read(root.appendingPathComponent("main.conf"))
        #expect(reader.findings.isEmpty)
        let vhost = try #require(directives.first)
        #expect(vhost.name == "VirtualHost" && vhost.args == ["*:80"])
        #expect(vhost.location.line == 1 && vhost.location.column == 1)
        let directory = try #require(vhost.children?.last)
        #expect(directory.isSection && directory.args == ["/var/www"] && directory.location.column == 3)
    }

    @Test func defineAndVariablesAndIfDefine() throws {
        let root = try ApacheFixture.write(["main.conf": """
            Define SITE a.example
            Define FLAG
            ServerName ${SITE}
            <IfDefine FLAG>
              ServerAlias flagged
            </IfDefine>
            <IfDefine !FLAG>
              ServerAlias not-flagged
            </IfDefine>
            <IfDefine CLI>
              ServerAlias from-cli
            </IfDefine>
            UnDefine FLAG
            UnDefine CLI
            <IfDefine FLAG>
              ServerAlias after-undefine
            </IfDefine>
            <IfDefine CLI>
              ServerAlias cli-after-undefine
            </IfDefine>
            ServerAdmin ${UNKNOWN_VAR}
            ServerAdmin ${FROM_ENV}
            ServerAdmin ${not:a-variable}
            """])
        defer { try? FileManager.default.removeItem(at: root) }
        let main = root.appendingPathComponent("main.conf")
        let (directives, reader) = ApacheLoader.read(hostPath: main.path, role: .main, tree: ApacheFixture.absoluteTree,
                                                     defines: ["CLI"], environment: ["FROM_ENV": "env@example"])
        #expect(directives.map { $0.args.joined(separator: " ") }
                == ["a.example", "flagged", "from-cli", "${UNKNOWN_VAR}", "env@example", "${not:a-variable}"])
        let unresolved = reader.findings.filter { $0.ruleId == "input.unresolved" }
        #expect(unresolved.count == 1 && unresolved.first?.location?.line == 21)
    }

    @Test func ifModuleSeesOnlyModulesLoadedEarlier() throws {
        let root = try ApacheFixture.write(["main.conf": """
            <IfModule remoteip_module>
              ServerAlias too-early
            </IfModule>
            LoadModule remoteip_module modules/mod_remoteip.so
            <IfModule remoteip_module>
              ServerAlias by-name
            </IfModule>
            <IfModule mod_remoteip.c>
              ServerAlias by-source
            </IfModule>
            <IfModule !mod_ssl.c>
              ServerAlias no-ssl
            </IfModule>
            <IfModule version_module>
              ServerAlias built-in
            </IfModule>
            <IfModule mpm_event_module>
              ServerAlias not-loaded
            </IfModule>
            """])
        defer { try? FileManager.default.removeItem(at: root) }
        let (directives, reader) = ApacheFixture.read(root.appendingPathComponent("main.conf"))
        #expect(reader.findings.isEmpty)
        #expect(directives.filter { $0.name == "ServerAlias" }.map { $0.args[0] } == ["by-name", "by-source", "no-ssl", "built-in"])
        #expect(reader.modules.map(\.value).last == "remoteip_module")
    }

    @Test func ifSectionsStayAsMaybe() throws {
        let root = try ApacheFixture.write(["main.conf": """
            <If "%{HTTPS} != 'on'">
              Redirect permanent / https://a.example/
            </If>
            """])
        defer { try? FileManager.default.removeItem(at: root) }
        let result = ApacheFixture.load(root.appendingPathComponent("main.conf"))
        let redirect = try #require(result.model.virtualHosts.first?.redirects.first)
        #expect(redirect.from == .http && redirect.to == .https && redirect.status == 301)
        #expect(redirect.scope == #"<If %{HTTPS} != 'on'>"#)
    }

    @Test func macrosAreExpandedAtTheirUseSite() throws {
        let root = try ApacheFixture.write(["main.conf": """
            LoadModule macro_module modules/mod_macro.so
            Listen 80
            <Macro VHost $name $port>
              <VirtualHost *:$port>
                ServerName $name
              </VirtualHost>
            </Macro>
            Use VHost a.example 80
            Use VHost b.example 80
            UndefMacro VHost
            Use VHost c.example 80
            """])
        defer { try? FileManager.default.removeItem(at: root) }
        let result = ApacheFixture.load(root.appendingPathComponent("main.conf"))
        let hosts = result.model.virtualHosts
        #expect(hosts.map { $0.names.first?.value.description } == ["a.example", "b.example"])
        #expect(hosts.map(\.location.line) == [8, 9])
        #expect(result.findings.map(\.ruleId) == ["input.parse-error"])
        #expect(result.findings.first?.location?.line == 11)
    }

    @Test func includesFollowHttpdOrderAndReportMissingFiles() throws {
        let root = try ApacheFixture.write([
            "main.conf": "Include conf.d/*.conf\nInclude dir\nIncludeOptional none/*.conf\nInclude missing.conf\nInclude main.conf\n",
            "conf.d/b.conf": "ServerAlias b\n",
            "conf.d/a.conf": "ServerAlias a\n",
            "conf.d/.hidden.conf": "ServerAlias hidden\n",
            "dir/z.conf": "ServerAlias z\n",
            "dir/sub/y.conf": "ServerAlias y\n",
        ])
        defer { try? FileManager.default.removeItem(at: root) }
        let main = root.appendingPathComponent("main.conf")
        let (directives, reader) = ApacheFixture.read(main)
        #expect(directives.map { $0.args[0] } == ["a", "b", "y", "z"])
        let missing = reader.findings.filter { $0.ruleId == "input.include-missing" }
        #expect(missing.count == 1 && missing.first?.location?.line == 4)
        let cycle = reader.findings.filter { $0.ruleId == "input.parse-error" }
        #expect(cycle.count == 1 && cycle.first?.message.contains("cycle") == true)
        #expect(reader.includes.map(\.depth) == [0, 1, 1, 1, 1])
    }

    @Test func rootMappingReadsAbsoluteIncludesUnderTheRoot() throws {
        let root = try ApacheFixture.write([
            "etc/apache2/apache2.conf": "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\nInclude /etc/apache2/sites-enabled/*.conf\n",
            "etc/apache2/envvars": "export APACHE_LOG_DIR=/var/log/apache2$SUFFIX\n",
            "etc/apache2/sites-enabled/a.conf": "<VirtualHost *:80>\nServerName a.example\nErrorLog ${APACHE_LOG_DIR}/a.log\nSSLCertificateFile certs/a.pem\n</VirtualHost>\n",
        ])
        defer { try? FileManager.default.removeItem(at: root) }
        let tree = SourceTree(root: root, base: URL(fileURLWithPath: "/nonexistent-base"))
        let main = root.appendingPathComponent("etc/apache2/apache2.conf").path
        let result = ApacheLoader.load(hostPath: main, role: .main, tree: tree)
        #expect(result.files == ["/etc/apache2/apache2.conf", "/etc/apache2/sites-enabled/a.conf"])
        #expect(result.findings.isEmpty)
        let host = try #require(result.model.virtualHosts.first)
        #expect(host.location.file == "/etc/apache2/sites-enabled/a.conf")
        let certificate = try #require(host.tls?.certificateFiles.first)
        #expect(certificate.hostPath == root.appendingPathComponent("etc/apache2/certs/a.pem").standardizedFileURL.path)
    }

    @Test func envvarsAreReadWithoutRunningThem() {
        let values = ApacheLoader.parseEnvvars("""
            unset HOME
            if [ "${APACHE_CONFDIR##/etc/apache2-}" != "${APACHE_CONFDIR}" ] ; then
            \tSUFFIX="-${APACHE_CONFDIR##/etc/apache2-}"
            else
            \tSUFFIX=
            fi
            export APACHE_RUN_USER=www-data
            export APACHE_LOG_DIR=/var/log/apache2$SUFFIX
            export APACHE_PID_FILE="${APACHE_RUN_DIR}/x.pid"
            """)
        #expect(values["APACHE_RUN_USER"] == "www-data")
        #expect(values["APACHE_LOG_DIR"] == "/var/log/apache2")
        #expect(values["APACHE_PID_FILE"] == "/x.pid")
    }

    @Test func ifVersionIsDecidedOnlyWhenEvery24ReleaseAgrees() {
        #expect(ApacheConfigReader.evaluateVersion([">=", "2.4"]) == true)
        #expect(ApacheConfigReader.evaluateVersion(["<", "2.4"]) == false)
        // mod_version pads with zeros: `2.4` is 2.4.0, which no released 2.4 is.
        #expect(ApacheConfigReader.evaluateVersion(["2.4"]) == false)
        #expect(ApacheConfigReader.evaluateVersion(["=", "2"]) == false)
        #expect(ApacheConfigReader.evaluateVersion([">=", "2.4.30"]) == nil)
        #expect(ApacheConfigReader.evaluateVersion(["!=", "2.2"]) == true)
        #expect(ApacheConfigReader.evaluateVersion([">", "2.2.34"]) == true)
        #expect(ApacheConfigReader.evaluateVersion(["~", "2\\.4"]) == nil)
    }

    @Test func aFragmentSeesTheModulesItsTreeEnables() throws {
        let site = "<IfModule mod_ssl.c>\n<VirtualHost *:443>\nServerName x.example\nSSLEngine on\n</VirtualHost>\n</IfModule>\n<IfModule !mod_ssl.c>\nServerAlias no-ssl\n</IfModule>\n"
        let withList = try ApacheFixture.write(["apache2/sites-enabled/x.conf": site,
                                                "apache2/mods-enabled/ssl.load": "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n"])
        let without = try ApacheFixture.write(["apache2/sites-enabled/x.conf": site])
        let empty = try ApacheFixture.write(["apache2/sites-enabled/x.conf": site, "apache2/mods-enabled/dir.load": "LoadModule dir_module x.so\n"])
        defer { for url in [withList, without, empty] { try? FileManager.default.removeItem(at: url) } }
        func names(_ root: URL) -> [String] {
            ApacheFixture.load(root.appendingPathComponent("apache2/sites-enabled/x.conf"), role: .fragment)
                .model.virtualHosts.flatMap { $0.names.map(\.value.description) }
        }
        #expect(names(withList) == ["x.example"])
        #expect(names(without) == ["x.example"])
        #expect(names(empty).contains("no-ssl") && !names(empty).contains("x.example"))
    }

    @Test func aFragmentIsReadAsServerConfig() throws {
        let root = try ApacheFixture.write(["apache2/sites-enabled/x.conf": "<VirtualHost *:443>\nServerName x.example\nSSLEngine on\nSSLCertificateFile ssl/x.pem\n</VirtualHost>\n"])
        defer { try? FileManager.default.removeItem(at: root) }
        let result = ApacheFixture.load(root.appendingPathComponent("apache2/sites-enabled/x.conf"), role: .fragment)
        let host = try #require(result.model.virtualHosts.first)
        #expect(host.listeners.first?.port == 443 && host.listeners.first?.tls == true)
        #expect(host.tls?.certificateFiles.first?.hostPath == root.appendingPathComponent("apache2/ssl/x.pem").path)
        #expect(result.notes.first?.contains("not included") == true)
    }
}

/// Broken configurations: httpd's own `-t` is the oracle for which line is wrong.
@Suite("Apache parse errors against apache2 -t", .oracle("apache2 -t", unavailable: Oracle.missing(programs: ["apache2"])))
struct ApacheParseErrorTests {
    static let broken: [(String, [String: String])] = [
        ("stray close", ["main.conf": "</VirtualHost>\n"]),
        ("mismatched close", ["main.conf": "<VirtualHost *:80>\n<Directory /x>\n</Location>\n</VirtualHost>\n"]),
        ("unclosed nested", ["main.conf": "Listen 127.0.0.1:18090\n<VirtualHost *:18090>\n<Directory /x>\n"]),
        ("close missing bracket", ["main.conf": "<VirtualHost *:80>\n</VirtualHost\n"]),
        ("false IfModule mismatch", ["main.conf": "# c\n<IfModule nope_module>\n<Directory /x>\n</Location>\n</IfModule>\n"]),
        ("false IfModule unclosed", ["main.conf": "<IfModule nope_module>\n<Directory /x>\n"]),
        ("true IfModule mismatch", ["main.conf": "<IfModule version_module>\n<Directory /x>\n</IfModule>\n"]),
        ("extra IfModule close", ["main.conf": "<IfModule version_module>\n</IfModule>\n</IfModule>\n"]),
        ("IfModule without argument", ["main.conf": "<IfModule>\n</IfModule>\n"]),
        ("missing include", ["main.conf": "ServerAdmin a@b\nInclude nothere.conf\n"]),
        ("wildcard matches nothing", ["main.conf": "Include empty/*.conf\n", "empty/readme.txt": "x\n"]),
        ("error inside include", ["main.conf": "Include inc/*.conf\n", "inc/a.conf": "ServerAdmin x\n<Directory /x>\n</Files>\n"]),
        ("continued close", ["main.conf": "<VirtualHost \\\n *:80>\n</Directory>\n"]),
        ("error after comment continuation", ["main.conf": "# x \\\n</VirtualHost>\n</VirtualHost>\n"]),
        ("macro unknown", ["main.conf": "LoadModule macro_module /usr/lib/apache2/modules/mod_macro.so\nUse Nope 1\n"]),
        ("macro argument count", ["main.conf": "LoadModule macro_module /usr/lib/apache2/modules/mod_macro.so\n<Macro M $a>\nServerAdmin $a\n</Macro>\nUse M\n"]),
        ("macro unclosed", ["main.conf": "LoadModule macro_module /usr/lib/apache2/modules/mod_macro.so\n\n<Macro M $a>\nServerAdmin $a\n"]),
        ("error inside macro body", ["main.conf": "LoadModule macro_module /usr/lib/apache2/modules/mod_macro.so\n<Macro M $a>\n</Directory>\n</Macro>\nUse M x\n"]),
        ("duplicate Listen", ["main.conf": "Listen 127.0.0.1:18093\nServerAdmin a@b\nListen 127.0.0.1:18093\n"]),
        ("false IfDefine soak", ["main.conf": "<IfDefine NOPE>\n<VirtualHost *:80>\n</IfDefine>\n"]),
        ("unclosed quote then stray close", ["main.conf": "ServerAdmin \"a b\n</Files>\n"]),
        ("directive of a module not loaded", ["main.conf": "Listen 127.0.0.1:18094\n<VirtualHost *:18094>\nServerName a\n  SSLEngine on\n</VirtualHost>\n"]),
        ("Require ip without mod_authz_host", ["main.conf": "LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so\n<Location />\n  Require ip 10.0.0.1\n</Location>\n"]),
        ("comment after a true conditional's close", ["main.conf": "<IfModule version_module>\nServerAdmin a\n</IfModule> # end\n"]),
        ("space in a true conditional's close", ["main.conf": "<IfDefine !NOPE>\nServerAdmin a\n</IfDefine >\n"]),
        ("wildcard directory matches nothing", ["main.conf": "ServerAdmin a\nInclude nodir*/x.conf\n"]),
        ("wildcard directory then missing file", ["main.conf": "Include d*/x.conf\n", "d1/y.conf": "ServerAdmin y\n"]),
        ("optional include of a broken file", ["main.conf": "IncludeOptional opt/*.conf\n", "opt/a.conf": "<Files x>\n"]),
        ("continuation into a stray close", ["main.conf": "ServerAdmin a \\\n b\n</Directory \\\n>\n"]),
        ("continued directive of a module not loaded", ["main.conf": "ServerAdmin a\nRewriteEngine \\\n  On\n"]),
        ("LoadModule of a missing file", ["main.conf": "ServerAdmin a\n\nLoadModule nothere_module /usr/lib/apache2/modules/mod_nothere.so\n"]),
        ("Use without mod_macro", ["main.conf": "ServerAdmin a@b\nUse Something\n"]),
        ("Include of a directory with a broken file", ["main.conf": "Include d\n", "d/a.conf": "ServerAdmin x\n", "d/sub/b.conf": "\n\n</If>\n"]),
    ]

    @Test func everyBrokenFileIsCounted() { #expect(Self.broken.count == ReadmeFigures.value("apache-broken")) }

    @Test(arguments: 0..<broken.count)
    func reportsTheLineHttpdReports(_ index: Int) throws {
        let (name, files) = Self.broken[index]
        let root = try ApacheFixture.write(files)
        defer { try? FileManager.default.removeItem(at: root) }
        let main = root.appendingPathComponent("main.conf")
        // httpd needs an MPM and a few paths; they go in a wrapper so the file's lines stay put.
        let wrapper = root.appendingPathComponent("wrapper.conf")
        try (ApacheFixture.header(root) + "\nInclude \(main.path)\n").write(to: wrapper, atomically: true, encoding: .utf8)
        let oracle = try #require(try ApacheFixture.httpdSyntaxError(wrapper, root: root), "\(name): apache2 -t accepted it")
        let result = ApacheFixture.load(main)
        let problems = result.findings.filter { $0.ruleId == "input.parse-error" || $0.ruleId == "input.include-missing" }
        let first = try #require(problems.first, "\(name): no finding; httpd says \(oracle)")
        #expect(first.location?.file == oracle.file, "\(name): \(oracle.message)")
        #expect(first.location?.line == oracle.line, "\(name): httpd: \(oracle.message); ours: \(first.message)")
    }

    @Test("a true <IfModule> the file never closes is accepted by httpd, and by the audit",
          arguments: ["<IfModule version_module>\n<VirtualHost *:80>\nServerAdmin a\n</VirtualHost> </IfModule>\n",
                      "<IfModule version_module>\n<VirtualHost *:80>\nServerAdmin a\n"])
    func unclosedTrueConditional(_ text: String) throws {
        let root = try ApacheFixture.write(["main.conf": text])
        defer { try? FileManager.default.removeItem(at: root) }
        let main = root.appendingPathComponent("main.conf")
        let wrapper = root.appendingPathComponent("wrapper.conf")
        try (ApacheFixture.header(root) + "\nInclude \(main.path)\n").write(to: wrapper, atomically: true, encoding: .utf8)
        #expect(try ApacheFixture.httpdSyntaxError(wrapper, root: root) == nil)
        #expect(ApacheFixture.load(main).findings.filter { $0.ruleId == "input.parse-error" }.isEmpty)
    }

    @Test func aValidConfigurationIsAcceptedByBoth() throws {
        let root = try ApacheFixture.write([:])
        defer { try? FileManager.default.removeItem(at: root) }
        let main = root.appendingPathComponent("main.conf")
        try (ApacheFixture.header(root) + """

            Listen 127.0.0.1:18091
            Define PORT 18091
            <IfModule nope_module>
            </IfModule> # a comment here is fine: the body is skipped
            <IfModule version_module>
            </ifmodule>
            <VirtualHost 127.0.0.1:${PORT}>
              ServerName "quoted.example"
              ServerAlias \\
                 continued.example
              <Location "/a b">
                Options None
              </Location> # and after an ordinary section too
            </VirtualHost>
            """).write(to: main, atomically: true, encoding: .utf8)
        #expect(try ApacheFixture.httpdSyntaxError(main, root: root) == nil)
        let result = ApacheFixture.load(main)
        #expect(result.findings.isEmpty)
        let host = try #require(result.model.virtualHosts.first)
        #expect(host.names.map(\.value.description) == ["quoted.example", "continued.example"])
        #expect(host.listeners.map(\.port) == [18091])
    }
}
