#!/bin/sh
# Certificates for this scenario (made with openssl at test time; never committed).
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
sub inter "/C=US/O=Example Trust/CN=Example Trust RSA CA 2024" root
leaf site "/CN=www.example.test" "DNS:www.example.test,DNS:example.test" inter $VALID
cd ..
rmdir etc/nginx/ssl etc/nginx
mkdir -p etc/ssl/certs etc/ssl/private
cat pki/site.pem pki/inter.pem > etc/ssl/certs/www.example.test.pem
cp pki/site.key etc/ssl/private/www.example.test.key
chmod 600 etc/ssl/private/www.example.test.key
# Only the root stays (it is the caFiles entry): the rest of the CA's work is not an input.
find pki -type f ! -name root.pem -delete
