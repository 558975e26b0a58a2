#!/bin/sh
# Makes this fixture's certificates (the shared helpers are sourced from the repository).
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
cadated root "/CN=Fixture Root CA" 20240101000000Z 20350101000000Z 1024
leaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID
cp site.pem site.key ../etc/nginx/ssl/
finish 600
