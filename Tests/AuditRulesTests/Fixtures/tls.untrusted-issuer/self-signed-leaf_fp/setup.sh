#!/bin/sh
# A self-signed server certificate (keyUsage without keyCertSign, as server certificates have):
# tls.self-signed says why it fails; it is not also an untrusted issuer.
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
selfleaf site "/CN=www.example.test" "DNS:www.example.test"
cp site.pem site.key ../etc/nginx/ssl/
cd ..
chmod 600 etc/nginx/ssl/*.key 2>/dev/null || true
# Only the root stays (it is the --ca-file): the rest of the CA's work is not an input.
find pki -type f ! -name root.pem -delete
