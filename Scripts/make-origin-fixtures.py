#!/usr/bin/env python3
"""Writes the Apache-based fixtures of the origin.* and input.* rules (run from the repository root).
Re-run after editing; review the diff of Tests/AuditRulesTests/Fixtures."""
import os, textwrap
BASE = "Tests/AuditRulesTests/Fixtures"
MODULES = ["alias", "authz_core", "authz_host", "ssl", "remoteip", "rewrite", "proxy", "proxy_http", "headers", "mime", "dir"]
def apache(rule, case, site, config="tlsMode: full", extra_modules=(), main_extra="", files=None, listen="Listen 80\nListen 443\n"):
    d = os.path.join(BASE, rule, case)
    os.makedirs(os.path.join(d, "etc/apache2/sites-enabled"), exist_ok=True)
    mods = "\n".join(f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so" for m in MODULES + list(extra_modules))
    open(os.path.join(d, "etc/apache2/apache2.conf"), "w").write(
        f'ServerRoot "/etc/apache2"\n{mods}\n{listen}{main_extra}IncludeOptional sites-enabled/*.conf\n')
    open(os.path.join(d, "etc/apache2/sites-enabled/site.conf"), "w").write(textwrap.dedent(site).lstrip())
    open(os.path.join(d, ".originaudit.yml"), "w").write(config.strip() + "\nat: 2026-11-23T00:00:00Z\n")
    for name, text in (files or {}).items():
        p = os.path.join(d, name); os.makedirs(os.path.dirname(p), exist_ok=True); open(p, "w").write(text)

CF = "173.245.48.0/20 103.21.244.0/22 103.22.200.0/22 103.31.4.0/22 141.101.64.0/18 108.162.192.0/18 190.93.240.0/20 188.114.96.0/20 197.234.240.0/22 198.41.128.0/17 162.158.0.0/15 104.16.0.0/13 104.24.0.0/14 172.64.0.0/13 131.0.72.0/22 2400:cb00::/32 2606:4700::/32 2803:f800::/32 2405:b500::/32 2405:8100::/32 2a06:98c0::/29 2c0f:f248::/32"
REALIP = f"    RemoteIPHeader CF-Connecting-IP\n    RemoteIPTrustedProxy {CF}\n"
TLS = "    SSLEngine on\n    SSLCertificateFile /etc/ssl/site.pem\n    SSLCertificateKeyFile /etc/ssl/site.key\n"

def vhost(port, body, name="www.example.test"):
    return f"<VirtualHost *:{port}>\n    ServerName {name}\n{body}</VirtualHost>\n"

# origin.redirect-loop
apache("origin.redirect-loop", "flexible-https-redirect", vhost(80, "    Redirect permanent / https://www.example.test/\n"), "tlsMode: flexible")
apache("origin.redirect-loop", "full-https-redirect_fp", vhost(80, "    Redirect permanent / https://www.example.test/\n") + vhost(443, TLS), "tlsMode: full")
apache("origin.redirect-loop", "strict-redirect-to-http", vhost(80, "") + vhost(443, TLS + "    Redirect / http://www.example.test/\n"), "tlsMode: strict")
apache("origin.redirect-loop", "rewrite-when-https-off-flexible",
       vhost(80, "    RewriteEngine On\n    RewriteCond %{HTTPS} off\n    RewriteRule ^ https://%{HTTP_HOST}%{REQUEST_URI} [R=301,L]\n"), "tlsMode: flexible")
# origin.tls-listener-missing
apache("origin.tls-listener-missing", "strict-http-only", vhost(80, ""), "tlsMode: strict")
apache("origin.tls-listener-missing", "strict-with-tls_fp", vhost(80, "") + vhost(443, TLS), "tlsMode: strict")
apache("origin.tls-listener-missing", "flexible-http-only_fp", vhost(80, ""), "tlsMode: flexible")
# origin.http-listener-missing
apache("origin.http-listener-missing", "flexible-tls-only", vhost(443, TLS), "tlsMode: flexible", listen="Listen 443\n")
apache("origin.http-listener-missing", "main-server-answers-on-80_fp", vhost(443, TLS), "tlsMode: flexible")
apache("origin.http-listener-missing", "origin-pull-tls-only_fp", vhost(443, TLS), "tlsMode: origin-pull")
# origin.unproxied-port
apache("origin.unproxied-port", "only-on-8081", vhost(8081, ""), main_extra="Listen 8081\n")
apache("origin.unproxied-port", "on-8080_fp", vhost(8080, ""), main_extra="Listen 8080\n")
# origin.realip-missing
apache("origin.realip-missing", "no-remoteip", vhost(80, ""))
apache("origin.realip-missing", "wrong-header", vhost(80, f"    RemoteIPHeader X-Real-IP\n    RemoteIPTrustedProxy {CF}\n"))
apache("origin.realip-missing", "restored_fp", vhost(80, REALIP))
# origin.realip-trusts-any
apache("origin.realip-trusts-any", "header-without-proxies", vhost(80, "    RemoteIPHeader CF-Connecting-IP\n"))
apache("origin.realip-trusts-any", "trusts-everything", vhost(80, "    RemoteIPHeader CF-Connecting-IP\n    RemoteIPTrustedProxy 0.0.0.0/0\n"))
apache("origin.realip-trusts-any", "cdn-only_fp", vhost(80, REALIP))
# origin.realip-incomplete
apache("origin.realip-incomplete", "two-ranges-only", vhost(80, "    RemoteIPHeader CF-Connecting-IP\n    RemoteIPTrustedProxy 173.245.48.0/20 103.21.244.0/22\n"))
apache("origin.realip-incomplete", "every-range_fp", vhost(80, REALIP))
apache("origin.realip-incomplete", "list-file_fp", vhost(80, "    RemoteIPHeader CF-Connecting-IP\n    RemoteIPTrustedProxyList /etc/apache2/cloudflare-ips.txt\n"),
       files={"etc/apache2/cloudflare-ips.txt": "# Cloudflare\n" + "\n".join(CF.split()) + "\n"})
# origin.per-ip-limit-on-cdn
EVASIVE = "<IfModule mod_evasive20.c>\n    DOSPageCount 5\n    DOSSiteCount 50\n    DOSBlockingPeriod 60\n</IfModule>\n"
apache("origin.per-ip-limit-on-cdn", "evasive-without-remoteip", vhost(80, ""), extra_modules=["evasive20"], main_extra=EVASIVE)
apache("origin.per-ip-limit-on-cdn", "evasive-with-remoteip_fp", vhost(80, REALIP), extra_modules=["evasive20"], main_extra=EVASIVE)
# origin.antiloris-blocks-cdn
apache("origin.antiloris-blocks-cdn", "antiloris-default", vhost(80, REALIP), extra_modules=["antiloris"], main_extra="IPReadLimit 10\n")
apache("origin.antiloris-blocks-cdn", "antiloris-exempts-cdn_fp", vhost(80, REALIP), extra_modules=["antiloris"],
       main_extra=f"IPReadLimit 10\nExemptIPs {CF}\n")
# origin.deny-blocks-cdn
apache("origin.deny-blocks-cdn", "deny-an-edge-without-remoteip", vhost(80, "    <Location />\n        <RequireAll>\n            Require all granted\n            Require not ip 162.158.0.0/16\n        </RequireAll>\n    </Location>\n"))
apache("origin.deny-blocks-cdn", "cdn-allowlist-after-remoteip", vhost(80, REALIP + f"    <Location />\n        Require ip {CF}\n    </Location>\n"))
apache("origin.deny-blocks-cdn", "cdn-allowlist-without-remoteip_fp", vhost(80, f"    <Location />\n        Require ip {CF}\n    </Location>\n"))
apache("origin.deny-blocks-cdn", "htaccess-closed-to-all_fp", vhost(80, REALIP + '    <FilesMatch "^\\.ht">\n        Require all denied\n    </FilesMatch>\n'))
# origin.timeout-exceeds-cdn
apache("origin.timeout-exceeds-cdn", "proxy-timeout-300", vhost(80, REALIP + "    ProxyPass / http://127.0.0.1:8080/\n    ProxyTimeout 300\n"))
apache("origin.timeout-exceeds-cdn", "proxy-timeout-90_fp", vhost(80, REALIP + "    ProxyPass / http://127.0.0.1:8080/\n    ProxyTimeout 90\n"))
# origin.keepalive-disabled
apache("origin.keepalive-disabled", "keepalive-off", vhost(80, REALIP), main_extra="KeepAlive Off\n")
apache("origin.keepalive-disabled", "keepalive-on_fp", vhost(80, REALIP), main_extra="KeepAlive On\n")
# origin.mod-cloudflare
apache("origin.mod-cloudflare", "module-loaded", vhost(80, REALIP), extra_modules=["cloudflare"])
apache("origin.mod-cloudflare", "remoteip-instead_fp", vhost(80, REALIP))
# input.include-missing / input.unresolved (Apache)
apache("input.include-missing", "include-missing-file", vhost(80, "    Include /etc/apache2/conf-enabled/security.conf\n"))
apache("input.include-missing", "include-optional-missing_fp", vhost(80, "    IncludeOptional /etc/apache2/conf-enabled/security.conf\n"))
apache("input.unresolved", "unknown-variable", vhost(80, "    SSLCertificateFile ${CERT_DIR}/site.pem\n"))
apache("input.unresolved", "defined-variable_fp", vhost(80, "    SSLCertificateFile ${CERT_DIR}/site.pem\n"), main_extra="Define CERT_DIR /etc/ssl\n")
HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
def tcp(port):
    return HEADER + f"   0: 0100007F:{port:04X} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1677 1 0000000000000000 100 0 0 10 0\n"
apache("origin.upstream-unreachable", "php-fpm-stopped", vhost(80, REALIP + "    ProxyPass / http://127.0.0.1:9000/\n"),
       files={"proc-net-tcp": tcp(22), "proc-net-unix": "Num       RefCount Protocol Flags    Type St Inode Path\n"})
apache("origin.upstream-unreachable", "app-listening_fp", vhost(80, REALIP + "    ProxyPass / http://127.0.0.1:9000/\n"),
       files={"proc-net-tcp": tcp(9000), "proc-net-unix": "Num       RefCount Protocol Flags    Type St Inode Path\n"})
apache("origin.upstream-unreachable", "not-live_fp", vhost(80, REALIP + "    ProxyPass / http://127.0.0.1:9000/\n"))

# The same rules through the nginx parser.
def nginx(rule, case, http_body, config="tlsMode: full"):
    d = os.path.join(BASE, rule, case)
    os.makedirs(os.path.join(d, "etc/nginx"), exist_ok=True)
    open(os.path.join(d, "etc/nginx/nginx.conf"), "w").write(
        "events { worker_connections 64; }\nhttp {\n" + textwrap.indent(textwrap.dedent(http_body).strip(), "    ") + "\n}\n")
    open(os.path.join(d, ".originaudit.yml"), "w").write(config.strip() + "\nat: 2026-11-23T00:00:00Z\n")

NGX_REALIP = "\n".join(f"set_real_ip_from {c};" for c in CF.split()) + "\nreal_ip_header CF-Connecting-IP;\n"
def server(body, listen="listen 80;", name="www.example.test"):
    return f"server {{\n    {listen}\n    server_name {name};\n" + textwrap.indent(textwrap.dedent(body).strip(), "    ") + "\n}\n"

nginx("origin.redirect-loop", "nginx-flexible-return-301", server("return 301 https://$host$request_uri;"), "tlsMode: flexible")
nginx("origin.redirect-loop", "nginx-forwarded-proto-guard_fp",
      server('if ($http_x_forwarded_proto != "https") {\n    return 301 https://$host$request_uri;\n}'), "tlsMode: flexible")
nginx("origin.realip-incomplete", "nginx-two-ranges", server("set_real_ip_from 173.245.48.0/20;\nset_real_ip_from 103.21.244.0/22;\nreal_ip_header CF-Connecting-IP;"))
nginx("origin.realip-incomplete", "nginx-every-range_fp", server(NGX_REALIP))
nginx("origin.realip-trusts-any", "nginx-trusts-everything", server("set_real_ip_from 0.0.0.0/0;\nreal_ip_header X-Forwarded-For;"))
nginx("origin.per-ip-limit-on-cdn", "nginx-limit-req-without-realip",
      "limit_req_zone $binary_remote_addr zone=perip:10m rate=5r/s;\n" + server("location / {\n    limit_req zone=perip;\n}"))
nginx("origin.per-ip-limit-on-cdn", "nginx-limit-req-with-realip_fp",
      "limit_req_zone $binary_remote_addr zone=perip:10m rate=5r/s;\n" + NGX_REALIP + server("location / {\n    limit_req zone=perip;\n}"))
nginx("origin.deny-blocks-cdn", "nginx-cdn-allowlist-with-realip",
      NGX_REALIP + server("location / {\n" + "".join(f"    allow {c};\n" for c in CF.split()) + "    deny all;\n}"))
nginx("origin.deny-blocks-cdn", "nginx-cdn-allowlist-without-realip_fp",
      server("location / {\n" + "".join(f"    allow {c};\n" for c in CF.split()) + "    deny all;\n}"))
nginx("origin.timeout-exceeds-cdn", "nginx-proxy-read-300", NGX_REALIP + server("location / {\n    proxy_pass http://127.0.0.1:8080;\n    proxy_read_timeout 300s;\n}"))
nginx("origin.timeout-exceeds-cdn", "nginx-proxy-read-default_fp", NGX_REALIP + server("location / {\n    proxy_pass http://127.0.0.1:8080;\n}"))
nginx("origin.keepalive-disabled", "nginx-keepalive-zero", "keepalive_timeout 0;\n" + NGX_REALIP + server(""))
nginx("origin.tls-listener-missing", "nginx-strict-plain-443", NGX_REALIP + server("", listen="listen 443;"), "tlsMode: strict")
nginx("origin.unproxied-port", "nginx-only-8081", server("", listen="listen 8081;"))

# origin.port-not-listening: firewall + web server (+ live sockets).
def iptables_allowing(ports):
    rules = "\n".join(f"-A INPUT -s {c} -p tcp -m multiport --dports {ports} -j ACCEPT" for c in CF.split() if ":" not in c)
    return f"*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n{rules}\nCOMMIT\n"
def with_firewall(rule, case, ports):
    p = os.path.join(BASE, rule, case, "etc/iptables/rules.v4")
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "w").write(iptables_allowing(ports))

nginx("origin.port-not-listening", "full-firewall-opens-443-nothing-there", NGX_REALIP + server(""), "tlsMode: full")
with_firewall("origin.port-not-listening", "full-firewall-opens-443-nothing-there", "80,443")
nginx("origin.port-not-listening", "flexible-only-80_fp", NGX_REALIP + server(""), "tlsMode: flexible")
with_firewall("origin.port-not-listening", "flexible-only-80_fp", "80,443")
nginx("origin.port-not-listening", "live-nginx-stopped", NGX_REALIP + server(""), "tlsMode: flexible")
with_firewall("origin.port-not-listening", "live-nginx-stopped", "80")
open(os.path.join(BASE, "origin.port-not-listening/live-nginx-stopped/proc-net-tcp"), "w").write(tcp(22))
nginx("origin.port-not-listening", "live-nginx-running_fp", NGX_REALIP + server(""), "tlsMode: flexible")
with_firewall("origin.port-not-listening", "live-nginx-running_fp", "80")
open(os.path.join(BASE, "origin.port-not-listening/live-nginx-running_fp/proc-net-tcp"), "w").write(tcp(80))
