#!/bin/sh
# Certificates for this scenario (made with openssl at test time; never committed), laid out the
# way certbot does: fullchain.pem (leaf + intermediate) and privkey.pem under live/<name>/.
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
sub inter "/C=US/O=Example Trust/CN=Example Trust R11" root
leaf site "/CN=www.example.test" "DNS:www.example.test,DNS:example.test" inter $VALID
cd ..
rmdir etc/nginx/ssl etc/nginx
mkdir -p etc/letsencrypt/live/www.example.test
cat pki/site.pem pki/inter.pem > etc/letsencrypt/live/www.example.test/fullchain.pem
cp pki/site.key etc/letsencrypt/live/www.example.test/privkey.pem
chmod 600 etc/letsencrypt/live/www.example.test/privkey.pem
find pki -type f ! -name root.pem -delete
