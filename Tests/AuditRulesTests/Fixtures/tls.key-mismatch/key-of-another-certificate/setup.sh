#!/bin/sh
# Makes this fixture's certificates (the shared helpers are sourced from the repository).
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
leaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID
key other
cp site.pem ../etc/nginx/ssl/
cp other.key ../etc/nginx/ssl/site.key
finish 600
