#!/bin/sh
# Certificates for this scenario (made with openssl at test time; never committed).
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
site www.example.test "DNS:www.example.test,DNS:example.test" etc/ssl/certs etc/ssl/private
rmdir ../etc/nginx/ssl ../etc/nginx
