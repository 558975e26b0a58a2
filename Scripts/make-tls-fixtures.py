#!/usr/bin/env python3
"""Writes the fixtures of the tls.* rules (run from the repository root). Each fixture's setup.sh
makes its certificates with the openssl CLI at test time, with fixed validity dates (openssl ca
-startdate/-enddate), so that `at: 2026-11-23` judges them the same on any day."""
import os, textwrap

BASE = "Tests/AuditRulesTests/Fixtures"

# The shared helpers live in Tests/AuditRulesTests/Fixtures/_lib/certificates.sh (edited by hand).

SOURCE = '#!/bin/sh\n# Makes this fixture\'s certificates (the shared helpers are sourced from the repository).\nset -e\n. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"\n'

def fixture(rule, case, body, ssl_lines="", config_extra="", trust_root=True, key_mode="600",
            cert="ssl/site.pem", key="ssl/site.key"):
    d = os.path.join(BASE, rule, case)
    os.makedirs(os.path.join(d, "etc/nginx"), exist_ok=True)
    script = SOURCE + textwrap.dedent(body).strip() + f"\nfinish {key_mode}\n"
    open(os.path.join(d, "setup.sh"), "w").write(script)
    open(os.path.join(d, "etc/nginx/nginx.conf"), "w").write(textwrap.dedent(f"""\
        events {{ worker_connections 64; }}
        http {{
            server {{
                listen 443 ssl;
                server_name www.example.test;
                ssl_certificate {cert};
                ssl_certificate_key {key};
        {textwrap.indent(ssl_lines, "        ")}    }}
        }}
        """))
    cfg = "tlsMode: strict\nat: 2026-11-23T00:00:00Z\nhostnames: [www.example.test]\n"
    if trust_root: cfg += "caFiles: [pki/root.pem]\n"
    open(os.path.join(d, ".originaudit.yml"), "w").write(cfg + config_extra)

GOOD = 'leaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID\ncp site.pem site.key ../etc/nginx/ssl/'

fixture("tls.cert-missing", "certificate-not-copied", 'leaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID\ncp site.key ../etc/nginx/ssl/')
fixture("tls.cert-missing", "certificate-present_fp", GOOD)
fixture("tls.key-mismatch", "key-of-another-certificate",
        'leaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID\nkey other\ncp site.pem ../etc/nginx/ssl/\ncp other.key ../etc/nginx/ssl/site.key')
fixture("tls.key-mismatch", "matching-key_fp", GOOD)
fixture("tls.key-encrypted", "passphrase-key",
        'leaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID\ncp site.pem ../etc/nginx/ssl/\nopenssl pkey -in site.key -aes256 -passout pass:secret -out ../etc/nginx/ssl/site.key')
fixture("tls.key-encrypted", "legacy-proc-type-key",
        'leaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID\ncp site.pem ../etc/nginx/ssl/\nopenssl pkey -in site.key -traditional -aes128 -passout pass:secret -out ../etc/nginx/ssl/site.key')
fixture("tls.key-encrypted", "plain-key_fp", GOOD)
fixture("tls.key-permissions", "world-readable-key", GOOD, key_mode="644")
fixture("tls.key-permissions", "owner-only-key_fp", GOOD, key_mode="600")
fixture("tls.cert-expired", "expired-leaf",
        'leaf site "/CN=www.example.test" "DNS:www.example.test" root 20240101000000Z 20250101000000Z\ncp site.pem site.key ../etc/nginx/ssl/')
fixture("tls.cert-expired", "valid-leaf_fp", GOOD)
fixture("tls.cert-not-yet-valid", "future-leaf",
        'leaf site "/CN=www.example.test" "DNS:www.example.test" root 20270101000000Z 20280101000000Z\ncp site.pem site.key ../etc/nginx/ssl/')
fixture("tls.cert-not-yet-valid", "valid-leaf_fp", GOOD)
fixture("tls.cert-expiring", "expires-in-17-days",
        'leaf site "/CN=www.example.test" "DNS:www.example.test" root 20250101000000Z 20261210000000Z\ncp site.pem site.key ../etc/nginx/ssl/')
fixture("tls.cert-expiring", "expires-in-2030_fp", GOOD)
fixture("tls.hostname-mismatch", "other-name",
        'leaf site "/CN=other.example.test" "DNS:other.example.test" root $VALID\ncp site.pem site.key ../etc/nginx/ssl/')
fixture("tls.hostname-mismatch", "wildcard-covers-one-label-only",
        'leaf site "/CN=example.test" "DNS:*.test" root $VALID\ncp site.pem site.key ../etc/nginx/ssl/')
fixture("tls.hostname-mismatch", "wildcard_fp",
        'leaf site "/CN=example.test" "DNS:*.example.test,DNS:example.test" root $VALID\ncp site.pem site.key ../etc/nginx/ssl/')
fixture("tls.cn-only", "no-subject-alt-name",
        'leaf site "/CN=www.example.test" "" root $VALID\ncp site.pem site.key ../etc/nginx/ssl/')
fixture("tls.cn-only", "with-subject-alt-name_fp", GOOD)
fixture("tls.self-signed", "self-signed-leaf",
        'selfleaf site "/CN=www.example.test" "DNS:www.example.test"\ncp site.pem site.key ../etc/nginx/ssl/')
fixture("tls.self-signed", "ca-issued_fp", GOOD)
fixture("tls.untrusted-issuer", "private-root-served",
        'sub inter "/CN=Fixture Intermediate" root\nleaf site "/CN=www.example.test" "DNS:www.example.test" inter $VALID\n'
        'cat site.pem inter.pem root.pem > ../etc/nginx/ssl/site.pem\ncp site.key ../etc/nginx/ssl/', trust_root=False)
fixture("tls.untrusted-issuer", "private-root-trusted_fp",
        'sub inter "/CN=Fixture Intermediate" root\nleaf site "/CN=www.example.test" "DNS:www.example.test" inter $VALID\n'
        'cat site.pem inter.pem > ../etc/nginx/ssl/site.pem\ncp site.key ../etc/nginx/ssl/')
fixture("tls.chain-incomplete", "intermediate-not-served",
        'sub inter "/CN=Fixture Intermediate" root\nleaf site "/CN=www.example.test" "DNS:www.example.test" inter $VALID\n'
        'cp site.pem site.key ../etc/nginx/ssl/')
fixture("tls.chain-incomplete", "intermediate-served_fp",
        'sub inter "/CN=Fixture Intermediate" root\nleaf site "/CN=www.example.test" "DNS:www.example.test" inter $VALID\n'
        'cat site.pem inter.pem > ../etc/nginx/ssl/site.pem\ncp site.key ../etc/nginx/ssl/')
fixture("tls.chain-misordered", "intermediate-first",
        'sub inter "/CN=Fixture Intermediate" root\nleaf site "/CN=www.example.test" "DNS:www.example.test" inter $VALID\n'
        'cat inter.pem site.pem > ../etc/nginx/ssl/site.pem\ncp site.key ../etc/nginx/ssl/')
fixture("tls.chain-misordered", "leaf-first_fp",
        'sub inter "/CN=Fixture Intermediate" root\nleaf site "/CN=www.example.test" "DNS:www.example.test" inter $VALID\n'
        'cat site.pem inter.pem > ../etc/nginx/ssl/site.pem\ncp site.key ../etc/nginx/ssl/')
fixture("tls.weak-key", "rsa-1024",
        'key site 1024\nleaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID\ncp site.pem site.key ../etc/nginx/ssl/')
fixture("tls.weak-key", "rsa-2048_fp", GOOD)
fixture("tls.weak-signature", "sha1-signed",
        'leaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID sha1\ncp site.pem site.key ../etc/nginx/ssl/')
fixture("tls.weak-signature", "sha256-signed_fp", GOOD)
fixture("tls.legacy-protocols", "tls1-enabled", GOOD, ssl_lines="ssl_protocols TLSv1 TLSv1.1 TLSv1.2;\n")
fixture("tls.legacy-protocols", "modern-only_fp", GOOD, ssl_lines="ssl_protocols TLSv1.2 TLSv1.3;\n")
fixture("tls.no-shared-cipher", "chacha-only-on-tls12",
        GOOD, ssl_lines="ssl_protocols TLSv1.2;\nssl_ciphers ECDHE-RSA-CHACHA20-POLY1305;\n")
fixture("tls.no-shared-cipher", "ecdsa-suites-with-an-rsa-certificate",
        GOOD, ssl_lines="ssl_protocols TLSv1.2;\nssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384;\n")
fixture("tls.no-shared-cipher", "tls13-allowed_fp",
        GOOD, ssl_lines="ssl_protocols TLSv1.2 TLSv1.3;\nssl_ciphers ECDHE-RSA-CHACHA20-POLY1305;\n")
fixture("tls.no-shared-cipher", "gcm-on-tls12_fp",
        GOOD, ssl_lines="ssl_protocols TLSv1.2;\nssl_ciphers ECDHE-RSA-AES128-GCM-SHA256;\n")

# tls.origin-ca-exposed: a certificate whose issuer carries the Origin CA's name (a stand-in CA made
# here; the real Origin CA's key is Cloudflare's), with a firewall open to everyone or only to the CDN.
ORIGIN_CA = ('ca originca "/C=US/O=CloudFlare, Inc./OU=CloudFlare Origin SSL Certificate Authority/L=San Francisco/ST=California"\n'
             'leaf site "/CN=www.example.test" "DNS:www.example.test" originca $VALID\ncp site.pem site.key ../etc/nginx/ssl/')
CF4 = ["173.245.48.0/20", "103.21.244.0/22", "103.22.200.0/22", "103.31.4.0/22", "141.101.64.0/18", "108.162.192.0/18",
       "190.93.240.0/20", "188.114.96.0/20", "197.234.240.0/22", "198.41.128.0/17", "162.158.0.0/15", "104.16.0.0/13",
       "104.24.0.0/14", "172.64.0.0/13", "131.0.72.0/22"]
def firewall(rule, case, cdn_only):
    rules = "".join(f"-A INPUT -s {c} -p tcp -m tcp --dport 443 -j ACCEPT\n" for c in CF4) if cdn_only else "-A INPUT -p tcp -m tcp --dport 443 -j ACCEPT\n"
    p = os.path.join(BASE, rule, case, "etc/iptables/rules.v4")
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "w").write(f"*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n{rules}COMMIT\n")
fixture("tls.origin-ca-exposed", "open-to-everyone", ORIGIN_CA, trust_root=False)
firewall("tls.origin-ca-exposed", "open-to-everyone", cdn_only=False)
fixture("tls.origin-ca-exposed", "open-to-the-cdn-only_fp", ORIGIN_CA, trust_root=False)
firewall("tls.origin-ca-exposed", "open-to-the-cdn-only_fp", cdn_only=True)

# origin.aop-misconfigured: client-certificate verification against Cloudflare's origin-pull CA
# (the public CA file the repository ships in Rules/trust, copied in at test time).
AOP = GOOD + '\ncp "$ORIGINAUDIT_REPO/Rules/trust/cloudflare-authenticated-origin-pull-ca.pem" ../etc/nginx/ssl/aop.pem'
def aop(case, ssl_lines, mode):
    fixture("origin.aop-misconfigured", case, AOP, ssl_lines=ssl_lines)
    p = os.path.join(BASE, "origin.aop-misconfigured", case, ".originaudit.yml")
    text = open(p).read()
    open(p, "w").write(text.replace("tlsMode: strict", f"tlsMode: {mode}"))
aop("origin-pull-not-enforced", "", "origin-pull")
aop("origin-pull-wrong-ca", "ssl_verify_client on;\nssl_client_certificate ssl/site.pem;\n", "origin-pull")
aop("strict-requires-client-cert", "ssl_verify_client on;\nssl_client_certificate ssl/aop.pem;\n", "strict")
aop("origin-pull-enforced_fp", "ssl_verify_client on;\nssl_client_certificate ssl/aop.pem;\n", "origin-pull")
aop("strict-without-client-cert_fp", "", "strict")

# Issue 13: judged as a strict TLS client judges (fixtures for each class; see Scripts/limbo).
fixture("tls.cert-expired", "expired-trusted-root",
        'cadated root "/CN=Fixture Root CA" 20200101000000Z 20260101000000Z\nleaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID\ncp site.pem site.key ../etc/nginx/ssl/')
fixture("tls.cert-expired", "expired-intermediate-beside-a-valid-path_fp",
        'sub inter "/CN=Fixture Intermediate" root\n'
        'openssl ca -batch -config ca.cnf -cert root.pem -keyfile root.key -extensions v3_ca -notext -startdate 20200101000000Z -enddate 20250101000000Z -in inter.csr -out inter-old.pem 2>/dev/null\n'
        'leaf site "/CN=www.example.test" "DNS:www.example.test" inter $VALID\ncat site.pem inter-old.pem inter.pem > ../etc/nginx/ssl/site.pem\ncp site.key ../etc/nginx/ssl/')
fixture("tls.weak-key", "rsa-pss-1024-bits",
        'openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:1024 -out site.key 2>/dev/null\n'
        'leaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID\ncp site.pem site.key ../etc/nginx/ssl/')
fixture("tls.weak-signature", "rsa-pss-sha1-signature",
        'openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out inter.key 2>/dev/null\n'
        'openssl req -new -key inter.key -subj "/CN=Fixture PSS Intermediate" -out inter.csr\n'
        'openssl ca -batch -config ca.cnf -cert root.pem -keyfile root.key -extensions v3_ca -notext -startdate 20240101000000Z -enddate 20350101000000Z -in inter.csr -out inter.pem 2>/dev/null\n'
        'key site\nopenssl req -new -key site.key -subj "/CN=www.example.test" -addext "subjectAltName=DNS:www.example.test" -out site.csr\n'
        'openssl ca -batch -config ca.cnf -cert inter.pem -keyfile inter.key -extensions v3_leaf -notext -md sha1 -sigopt rsa_padding_mode:pss -startdate 20250101000000Z -enddate 20300101000000Z -in site.csr -out site.pem 2>/dev/null\n'
        'cat site.pem inter.pem > ../etc/nginx/ssl/site.pem\ncp site.key ../etc/nginx/ssl/')
fixture("tls.cert-missing", "key-named-as-certificate", GOOD, cert="ssl/site.key", key="ssl/site.pem")
fixture("tls.untrusted-issuer", "client-auth-only",
        'leaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID sha256 v3_leaf_client\ncp site.pem site.key ../etc/nginx/ssl/')
fixture("tls.untrusted-issuer", "leaf-without-authority-key-identifier",
        'leaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID sha256 v3_leaf_no_aki\ncp site.pem site.key ../etc/nginx/ssl/')
fixture("tls.untrusted-issuer", "ca-flagged-leaf",
        'leaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID sha256 v3_leaf_ca\ncp site.pem site.key ../etc/nginx/ssl/')
fixture("tls.weak-key", "weak-trusted-root",
        'cadated root "/CN=Fixture Root CA" 20240101000000Z 20350101000000Z 1024\nleaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID\ncp site.pem site.key ../etc/nginx/ssl/')
fixture("tls.hostname-mismatch", "wildcard-excluded-by-name-constraints",
        'sub inter "/CN=Fixture Constrained CA" root sha256 2048 v3_ca_excludes_www\n'
        'leaf site "/CN=www.example.test" "DNS:*.example.test" inter $VALID\ncat site.pem inter.pem > ../etc/nginx/ssl/site.pem\ncp site.key ../etc/nginx/ssl/')
