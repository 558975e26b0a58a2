#!/bin/sh
# Makes this fixture's certificates (the shared helpers are sourced from the repository).
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
sub inter "/CN=Fixture Constrained CA" root sha256 2048 v3_ca_excludes_www
leaf site "/CN=www.example.test" "DNS:*.example.test" inter $VALID
cat site.pem inter.pem > ../etc/nginx/ssl/site.pem
cp site.key ../etc/nginx/ssl/
finish 600
