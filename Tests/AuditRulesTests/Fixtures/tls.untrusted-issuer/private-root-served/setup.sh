#!/bin/sh
# Makes this fixture's certificates (the shared helpers are sourced from the repository).
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
sub inter "/CN=Fixture Intermediate" root
leaf site "/CN=www.example.test" "DNS:www.example.test" inter $VALID
cat site.pem inter.pem root.pem > ../etc/nginx/ssl/site.pem
cp site.key ../etc/nginx/ssl/
finish 600
