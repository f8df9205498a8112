#!/bin/sh
# gen.sh regenerates the fixtures in this folder with OpenSSL. They are test
# keys only, valid for 100 years so the tests do not rot. Run from this folder.
set -eu
days=36500

# RSA CA with a PKCS#1 ("RSA PRIVATE KEY") key.
openssl genrsa -traditional -out rsa_ca.key 2048
openssl req -x509 -new -key rsa_ca.key -sha256 -days "$days" -subj "/O=loopguard-test/CN=RSA Test CA" \
	-addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out rsa_ca.pem

# EC CA with a SEC 1 key preceded by an "EC PARAMETERS" block (ecparam output).
openssl ecparam -name prime256v1 -genkey -out ec_ca.key
openssl req -x509 -new -key ec_ca.key -sha256 -days "$days" -subj "/O=loopguard-test/CN=EC Test CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out ec_ca.pem

# A self-signed server certificate that is not a CA.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out not_ca.key
openssl req -x509 -new -key not_ca.key -sha256 -days "$days" -subj "/O=loopguard-test/CN=not a ca" \
	-addext "basicConstraints=critical,CA:FALSE" -addext "keyUsage=critical,digitalSignature" \
	-out not_ca.pem

# Keys the loader must reject.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes256 -pass pass:test -out encrypted.key
openssl genpkey -algorithm ED25519 -out ed25519.key
