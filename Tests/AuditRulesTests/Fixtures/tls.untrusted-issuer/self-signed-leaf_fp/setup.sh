#!/bin/sh
# A self-signed server certificate (keyUsage without keyCertSign, as server certificates have):
# tls.self-signed says why it fails; it is not also an untrusted issuer.
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
selfleaf site "/CN=www.example.test" "DNS:www.example.test"
cp site.pem site.key ../etc/nginx/ssl/
finish 600
