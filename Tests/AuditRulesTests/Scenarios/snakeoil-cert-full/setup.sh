#!/bin/sh
# Debian's ssl-cert package makes a self-signed "snakeoil" certificate for the machine's own
# host name (here web01) at install time; this makes one the same way (openssl, at test time).
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
selfleaf snakeoil "/CN=web01" "DNS:web01"
cd ..
rmdir etc/nginx/ssl etc/nginx
mkdir -p etc/ssl/certs etc/ssl/private
cp pki/snakeoil.pem etc/ssl/certs/ssl-cert-snakeoil.pem
cp pki/snakeoil.key etc/ssl/private/ssl-cert-snakeoil.key
# Debian: root:ssl-cert 0640.
chmod 640 etc/ssl/private/ssl-cert-snakeoil.key
rm -rf pki
