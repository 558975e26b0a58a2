#!/bin/sh
# Certificates for this scenario (made with openssl at test time; never committed).
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
sub inter "/C=US/O=Example Trust/CN=Example Trust RSA CA 2024" root
# The renewal cron job stopped in October: the certificate ended on 1 November 2026.
leaf site "/CN=www.example.test" "DNS:www.example.test,DNS:example.test" inter 20250901000000Z 20261101000000Z
cat site.pem inter.pem > ../etc/nginx/ssl/www.example.test.pem
cp site.key ../etc/nginx/ssl/www.example.test.key
cd ..
chmod 600 etc/nginx/ssl/*.key
# Only the root stays (it is the caFiles entry): the rest of the CA's work is not an input.
find pki -type f ! -name root.pem -delete
