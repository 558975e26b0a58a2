#!/bin/sh
# Certificates for this scenario (made with openssl at test time; never committed). The key was
# generated with a passphrase (`openssl genrsa -aes256`, as the CA's CSR how-to said) and kept so.
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
sub inter "/C=US/O=Example Trust/CN=Example Trust RSA CA 2024" root
leaf site "/CN=shop.example.test" "DNS:shop.example.test" inter $VALID
openssl pkey -in site.key -aes256 -passout pass:correct-horse -out site-encrypted.key
cd ..
rmdir etc/nginx/ssl etc/nginx
mkdir -p etc/ssl/certs etc/ssl/private
cp pki/site.pem etc/ssl/certs/shop.example.test.crt
cp pki/inter.pem etc/ssl/certs/example-trust-ca.crt
cp pki/site-encrypted.key etc/ssl/private/shop.example.test.key
chmod 600 etc/ssl/private/shop.example.test.key
find pki -type f ! -name root.pem -delete
