#!/bin/sh
# Makes this fixture's certificates (the shared helpers are sourced from the repository).
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
leaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID
cp site.pem site.key ../etc/nginx/ssl/
cd ..
chmod 600 etc/nginx/ssl/*.key 2>/dev/null || true
# Only the root stays (it is the --ca-file): the rest of the CA's work is not an input.
find pki -type f ! -name root.pem -delete
