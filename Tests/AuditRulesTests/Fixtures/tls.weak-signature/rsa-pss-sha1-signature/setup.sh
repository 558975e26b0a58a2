#!/bin/sh
# Makes this fixture's certificates (the shared helpers are sourced from the repository).
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out inter.key 2>/dev/null
openssl req -new -key inter.key -subj "/CN=Fixture PSS Intermediate" -out inter.csr
openssl ca -batch -config ca.cnf -cert root.pem -keyfile root.key -extensions v3_ca -notext -startdate 20240101000000Z -enddate 20350101000000Z -in inter.csr -out inter.pem 2>/dev/null
key site
openssl req -new -key site.key -subj "/CN=www.example.test" -addext "subjectAltName=DNS:www.example.test" -out site.csr
openssl ca -batch -config ca.cnf -cert inter.pem -keyfile inter.key -extensions v3_leaf -notext -md sha1 -sigopt rsa_padding_mode:pss -startdate 20250101000000Z -enddate 20300101000000Z -in site.csr -out site.pem 2>/dev/null
cat site.pem inter.pem > ../etc/nginx/ssl/site.pem
cp site.key ../etc/nginx/ssl/
finish 600
