#!/bin/sh
# Certificates for this scenario (made with openssl at test time; never committed): last year's
# key and certificate, and this year's certificate, issued for a new key that was not installed.
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
sub inter "/C=US/O=Example Trust/CN=Example Trust RSA CA 2024" root
leaf old "/CN=www.example.test" "DNS:www.example.test,DNS:example.test" inter 20251101000000Z 20261201000000Z
leaf new "/CN=www.example.test" "DNS:www.example.test,DNS:example.test" inter 20261120000000Z 20271220000000Z
cat new.pem inter.pem > ../etc/nginx/ssl/www.example.test-2026.pem
cp old.key ../etc/nginx/ssl/www.example.test.key
cd ..
chmod 600 etc/nginx/ssl/*.key
find pki -type f ! -name root.pem -delete
