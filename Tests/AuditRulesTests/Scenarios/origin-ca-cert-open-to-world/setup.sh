#!/bin/sh
# An Origin CA look-alike (made with openssl at test time; never committed): a CA named exactly
# like Cloudflare's Origin SSL Certificate Authority, which issues the origin certificate
# directly, as the real one does, for the zone and its wildcard, valid for years.
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
ca originca "/C=US/O=CloudFlare, Inc./OU=CloudFlare Origin SSL Certificate Authority/L=San Francisco/ST=California"
leaf origin "/O=CloudFlare, Inc./OU=CloudFlare Origin CA/CN=CloudFlare Origin Certificate" "DNS:*.example.test,DNS:example.test" originca $VALID
cp origin.pem ../etc/nginx/ssl/cloudflare-origin.pem
cp origin.key ../etc/nginx/ssl/cloudflare-origin.key
cd ..
chmod 600 etc/nginx/ssl/*.key
# Only the look-alike Origin CA root stays (it is the caFiles entry, standing in for the real one).
find pki -type f ! -name originca.pem -delete
