#!/bin/sh
# Makes this fixture's certificates (the shared helpers are sourced from the repository).
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
cadated root "/CN=Fixture Root CA" 20200101000000Z 20260101000000Z
leaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID
cp site.pem site.key ../etc/nginx/ssl/
finish 600
