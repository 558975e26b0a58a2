#!/bin/sh
# Makes this fixture's certificates (the shared helpers are sourced from the repository).
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
# The leaf is sound; the intermediate served after it has a 1024-bit RSA key.
sub inter "/CN=Fixture Intermediate" root sha256 1024
leaf site "/CN=www.example.test" "DNS:www.example.test" inter $VALID
cat site.pem inter.pem > ../etc/nginx/ssl/site.pem
cp site.key ../etc/nginx/ssl/
finish 600
