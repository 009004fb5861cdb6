#!/usr/bin/env bash
# Regenerates the signing test fixtures with the OpenSSL command line (an implementation
# independent of Mbed TLS, which is the point: signature_test checks that what OpenSSL signs,
# the SDK verifies). TEST KEYS ONLY: they are public in this repository and protect nothing.
# Usage: tests/data/signing/regen.sh   (rewrites every file in this folder but itself)
set -euo pipefail
cd "$(dirname "$0")"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec_p256_private.pem
openssl pkey -in ec_p256_private.pem -pubout -out ec_p256_public.pem
openssl pkey -in ec_p256_private.pem -pubout -outform DER -out ec_p256_public.der
openssl pkey -in ec_p256_private.pem -outform DER -out ec_p256_private.der
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec_p256_other_private.pem
openssl pkey -in ec_p256_other_private.pem -pubout -out ec_p256_other_public.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa2048_private.pem
openssl pkey -in rsa2048_private.pem -pubout -out rsa2048_public.pem
openssl rsa -in rsa2048_private.pem -RSAPublicKey_out -out rsa2048_public_pkcs1.pem
# Keys the verifier must refuse: another curve, and RSA below 2048 bits.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out ec_p384_private.pem
openssl pkey -in ec_p384_private.pem -pubout -out ec_p384_public.pem
rm ec_p384_private.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024_private.pem
openssl pkey -in rsa1024_private.pem -pubout -out rsa1024_public.pem
rm rsa1024_private.pem

# A 4 KiB image with varied bytes, and OpenSSL's signatures over it.
head -c 4096 /dev/urandom > image.bin
openssl dgst -sha256 -sign ec_p256_private.pem -out image.ecdsa.sig image.bin
openssl dgst -sha256 -binary image.bin > image.sha256
openssl pkeyutl -sign -inkey rsa2048_private.pem -in image.sha256 -out image.rsa-pss.sig \
  -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:digest \
  -pkeyopt rsa_mgf1_md:sha256
openssl pkeyutl -sign -inkey rsa2048_private.pem -in image.sha256 -out image.rsa-pss-max.sig \
  -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:max \
  -pkeyopt rsa_mgf1_md:sha256
# PKCS#1 v1.5 with the same key: a valid RSA signature, but not PSS, so it must be refused.
openssl dgst -sha256 -sign rsa2048_private.pem -out image.rsa-pkcs1v15.sig image.bin
