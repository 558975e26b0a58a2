#!/bin/sh
# Makes this fixture's certificates (the shared helpers are sourced from the repository).
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
leaf site "/CN=example.test" "DNS:example.test,DNS:www.example.test" root $VALID
cp site.pem site.key ../etc/nginx/ssl/
finish 600
