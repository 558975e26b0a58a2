#!/bin/sh
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
sub inter "/CN=Scenario Intermediate" root
leaf site "/CN=www.example.test" "DNS:www.example.test" inter $VALID
cat site.pem inter.pem > ../etc/nginx/ssl/site.pem
cp site.key ../etc/nginx/ssl/
cd ..
chmod 600 etc/nginx/ssl/site.key
find pki -type f ! -name root.pem -delete
