#!/bin/sh
# Certificates for this fixture, made with the openssl CLI (fixed dates via `openssl ca`).
set -e
mkdir -p pki etc/nginx/ssl
cd pki
cat > ca.cnf <<'EOF'
[ ca ]
default_ca = fixture
[ fixture ]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
preserve = yes
policy = anything
copy_extensions = copy
unique_subject = no
[ anything ]
countryName = optional
stateOrProvinceName = optional
localityName = optional
organizationName = optional
organizationalUnitName = optional
commonName = optional
[ v3_ca ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_ca_excludes_www ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
nameConstraints = critical,excluded;DNS:www.example.test
[ v3_leaf ]
basicConstraints = CA:false
keyUsage = digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_leaf_client ]
basicConstraints = CA:false
keyUsage = digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_leaf_no_aki ]
basicConstraints = CA:false
keyUsage = digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = none
[ v3_leaf_ca ]
basicConstraints = critical,CA:true
keyUsage = critical,digitalSignature,keyCertSign
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
: > index.txt
echo 1000 > serial
VALID="20250101000000Z 20300101000000Z"
# key NAME [BITS]
key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:${2:-2048} -out "$1.key" 2>/dev/null; }
# ca NAME SUBJECT — a self-signed CA
ca() { key "$1"; openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"; \
  openssl ca -batch -config ca.cnf -selfsign -keyfile "$1.key" -extensions v3_ca -notext \
  -startdate 20240101000000Z -enddate 20350101000000Z -in "$1.csr" -out "$1.pem" 2>/dev/null; }
# sub NAME SUBJECT ISSUER [MD] [BITS] [EXTENSIONS] — an intermediate CA (EXTENSIONS: a section of
# ca.cnf, default v3_ca)
sub() { key "$1" "${5:-2048}"; openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"; \
  openssl ca -batch -config ca.cnf -cert "$3.pem" -keyfile "$3.key" -extensions "${6:-v3_ca}" -notext -md "${4:-sha256}" \
  -startdate 20240101000000Z -enddate 20350101000000Z -in "$1.csr" -out "$1.pem" 2>/dev/null; }
# leaf NAME SUBJECT SAN ISSUER START END [MD] [EXTENSIONS] — SAN "" for none; EXTENSIONS a section
# of ca.cnf (default v3_leaf)
leaf() { [ -f "$1.key" ] || key "$1"; \
  if [ -n "$3" ]; then openssl req -new -key "$1.key" -subj "$2" -addext "subjectAltName=$3" -out "$1.csr"; \
  else openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"; fi; \
  openssl ca -batch -config ca.cnf -cert "$4.pem" -keyfile "$4.key" -extensions "${8:-v3_leaf}" -notext -md "${7:-sha256}" \
  -startdate "$5" -enddate "$6" -in "$1.csr" -out "$1.pem" 2>/dev/null; }
# selfleaf NAME SUBJECT SAN — a self-signed server certificate
selfleaf() { key "$1"; openssl req -new -key "$1.key" -subj "$2" -addext "subjectAltName=$3" -out "$1.csr"; \
  openssl ca -batch -config ca.cnf -selfsign -keyfile "$1.key" -extensions v3_leaf -notext \
  -startdate 20250101000000Z -enddate 20300101000000Z -in "$1.csr" -out "$1.pem" 2>/dev/null; }
# cadated NAME SUBJECT START END [BITS] — a self-signed CA valid from START to END
cadated() { key "$1" "${5:-2048}"; openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"; \
  openssl ca -batch -config ca.cnf -selfsign -keyfile "$1.key" -extensions v3_ca -notext \
  -startdate "$3" -enddate "$4" -in "$1.csr" -out "$1.pem" 2>/dev/null; }
ca root "/CN=Fixture Root CA"
# site NAME SAN CERTDIR KEYDIR — a leaf for NAME (subjectAltName SAN) from a fresh intermediate
# under the root, installed as a server has it: leaf + intermediate in ../CERTDIR/NAME.pem, the
# key in ../KEYDIR/NAME.key (mode 600). Afterwards only the root (the caFiles entry) stays in pki:
# the rest of the CA's work is not an input.
site() { sub inter "/C=US/O=Example Trust/CN=Example Trust RSA CA 2024" root; \
  leaf site "/CN=$1" "$2" inter $VALID; \
  mkdir -p "../$3" "../$4"; \
  cat site.pem inter.pem > "../$3/$1.pem"; \
  cp site.key "../$4/$1.key"; chmod 600 "../$4/$1.key"; \
  find . -type f ! -name root.pem -delete; }
# finish MODE — leave pki for the fixture folder, give the installed keys MODE, and keep only the
# root (it is the caFiles/--ca-file entry): the rest of the CA's work is not an input.
finish() { cd ..; chmod "$1" etc/nginx/ssl/*.key 2>/dev/null || true; find pki -type f ! -name root.pem -delete; }
