#!/bin/sh
# Makes this fixture's certificates (the shared helpers are sourced from the repository).
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
sub inter "/CN=Fixture Intermediate" root
openssl ca -batch -config ca.cnf -cert root.pem -keyfile root.key -extensions v3_ca -notext -startdate 20200101000000Z -enddate 20250101000000Z -in inter.csr -out inter-old.pem 2>/dev/null
leaf site "/CN=www.example.test" "DNS:www.example.test" inter $VALID
cat site.pem inter-old.pem inter.pem > ../etc/nginx/ssl/site.pem
cp site.key ../etc/nginx/ssl/
finish 600
