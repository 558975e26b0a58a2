#!/bin/sh
# Makes this fixture's certificates (the shared helpers are sourced from the repository).
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:1024 -out site.key 2>/dev/null
leaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID
cp site.pem site.key ../etc/nginx/ssl/
finish 600
