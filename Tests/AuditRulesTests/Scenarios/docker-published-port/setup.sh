#!/bin/sh
# Certificates for this scenario (made with openssl at test time; never committed).
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
site app.example.test "DNS:app.example.test" etc/nginx/ssl etc/nginx/ssl
