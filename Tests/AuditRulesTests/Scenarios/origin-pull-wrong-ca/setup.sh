#!/bin/sh
# Certificates for this scenario (made with openssl at test time; never committed). The client CA
# file is Cloudflare's Origin CA RSA root, which the repository ships in Rules/trust: the wrong
# file for Authenticated Origin Pulls, whose client certificate comes from a different CA.
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
sub inter "/C=US/O=Example Trust/CN=Example Trust RSA CA 2024" root
leaf site "/CN=www.example.test" "DNS:www.example.test" inter $VALID
cat site.pem inter.pem > ../etc/nginx/ssl/www.example.test.pem
cp site.key ../etc/nginx/ssl/www.example.test.key
cp "$ORIGINAUDIT_REPO/Rules/trust/cloudflare-origin-ca-rsa-root.pem" ../etc/nginx/ssl/cloudflare.crt
cd ..
chmod 600 etc/nginx/ssl/*.key
find pki -type f ! -name root.pem -delete
