#!/bin/sh
# Makes this fixture's certificates (the shared helpers are sourced from the repository).
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
leaf site "/CN=www.example.test" "DNS:www.example.test" root $VALID
cp site.pem ../etc/nginx/ssl/
openssl pkey -in site.key -aes256 -passout pass:secret -out ../etc/nginx/ssl/site.key
finish 600
