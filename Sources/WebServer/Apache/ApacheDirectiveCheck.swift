import OriginAuditCore

/// httpd's second phase (`ap_walk_config`) refuses a directive whose module is not loaded:
/// "Invalid command 'SSLEngine', perhaps misspelled or defined by a module not included in the
/// server configuration", and the server does not start. The walk runs after the whole file is
/// read, so a module loaded anywhere counts. Only the directives the model reads (and a few
/// common companions) are checked; unknown names are not judged.
enum ApacheDirectiveCheck {
    /// Directive (lowercased) → the module that provides it.
    static let providers: [String: String] = {
        var table: [String: String] = [:]
        func add(_ module: String, _ names: [String]) { for name in names { table[name.lowercased()] = module } }
        add("ssl_module", ["SSLEngine", "SSLCertificateFile", "SSLCertificateKeyFile", "SSLCertificateChainFile",
                           "SSLProtocol", "SSLCipherSuite", "SSLVerifyClient", "SSLCACertificateFile", "SSLCACertificatePath"])
        add("remoteip_module", ["RemoteIPHeader", "RemoteIPTrustedProxy", "RemoteIPInternalProxy",
                                "RemoteIPTrustedProxyList", "RemoteIPInternalProxyList", "RemoteIPProxyProtocol"])
        add("rewrite_module", ["RewriteEngine", "RewriteRule", "RewriteCond", "RewriteOptions"])
        add("proxy_module", ["ProxyPass", "ProxyPassMatch", "ProxyPassReverse", "ProxyTimeout", "BalancerMember"])
        add("alias_module", ["Redirect", "RedirectMatch", "RedirectPermanent", "RedirectTemp", "Alias", "ScriptAlias"])
        add("authz_core_module", ["Require", "RequireAll", "RequireAny", "RequireNone"])
        add("access_compat_module", ["Order", "Allow", "Deny", "Satisfy"])
        add("headers_module", ["Header", "RequestHeader"])
        add("qos_module", ["QS_SrvMaxConnPerIP", "QS_SrvMaxConnExcludeIP", "QS_ClientEventBlockCount"])
        add("security2_module", ["SecRuleEngine", "SecRule", "SecAction"])
        add("macro_module", ["Use", "UndefMacro", "Macro"])
        return table
    }()

    static func check(_ directives: [ApacheDirective], modules: Set<String>) -> [Finding] {
        var findings: [Finding] = []
        walk(directives, modules: modules, into: &findings)
        return findings
    }

    private static func walk(_ directives: [ApacheDirective], modules: Set<String>, into findings: inout [Finding]) {
        for directive in directives {
            let name = directive.lowercasedName
            if let module = providers[name] ?? evasiveProvider(name), !modules.contains(module),
               !(module == "evasive20_module" && modules.contains("evasive_module")) {
                let shown = directive.isSection ? "<" + directive.name : directive.name
                findings.append(Finding(
                    ruleId: "input.parse-error",
                    message: "Invalid command '\(shown)', perhaps misspelled or defined by a module not included in the server configuration (\(module) is not loaded): httpd refuses to start",
                    location: directive.errorLocation, predicts: "521",
                    remediation: "Load the module (Debian: a2enmod \(module.replacingOccurrences(of: "_module", with: ""))) or remove the directive.",
                    key: "invalid-command \(directive.name)"))
            }
            if name == "require", modules.contains("authz_core_module"),
               let provider = requireProvider(directive.args), let module = authzProviders[provider], !modules.contains(module) {
                findings.append(Finding(
                    ruleId: "input.parse-error",
                    message: "Unknown Authz provider: \(provider) (\(module) is not loaded): httpd refuses to start",
                    location: directive.errorLocation, predicts: "521",
                    remediation: "Load the module (Debian: a2enmod \(module.replacingOccurrences(of: "_module", with: ""))).",
                    key: "authz-provider \(provider)"))
            }
            if let children = directive.children { walk(children, modules: modules, into: &findings) }
        }
    }

    /// `Require` providers and the modules that register them.
    static let authzProviders: [String: String] = [
        "ip": "authz_host_module", "host": "authz_host_module", "forward-dns": "authz_host_module",
        "local": "authz_host_module", "valid-user": "authz_user_module", "user": "authz_user_module",
        "group": "authz_groupfile_module", "file-owner": "authz_owner_module", "file-group": "authz_owner_module",
    ]

    private static func requireProvider(_ args: [String]) -> String? {
        let words = args.first?.lowercased() == "not" ? Array(args.dropFirst()) : args
        return words.first?.lowercased()
    }

    private static func evasiveProvider(_ name: String) -> String? {
        name.hasPrefix("dos") && ["dospagecount", "dossitecount", "dospageinterval", "dossiteinterval",
                                  "dosblockingperiod", "doswhitelist", "doshashtablesize", "dosemailnotify",
                                  "doslogdir", "dossystemcommand"].contains(name) ? "evasive20_module" : nil
    }
}
