// Self-signed certificate generation: see tls_cert.hpp.
#include "http/tls_cert.hpp"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

#include "http/token.hpp"

namespace console {

namespace {

struct Free {
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
    void operator()(X509* p) const noexcept { X509_free(p); }
    void operator()(X509_EXTENSION* p) const noexcept { X509_EXTENSION_free(p); }
    void operator()(BIO* p) const noexcept { BIO_free(p); }
    void operator()(BIGNUM* p) const noexcept { BN_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("cannot generate the TLS certificate: " + what);
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

void add_extension(X509* cert, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    const Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) fail(std::string("extension ") + value);
}

bool is_ip(const std::string& host) {
    unsigned char buf[16];
    return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
           ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

/// A host name fit for a DNS: subject alternative name (letters, digits, '-', '.', '*').
bool plain_dns_name(const std::string& host) {
    if (host.empty() || host.size() > 253) return false;
    for (const char c : host) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '*';
        if (!ok) return false;
    }
    return true;
}

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

}  // namespace

bool certificate_names(const std::string& cert_file, const std::string& host) {
    std::FILE* f = std::fopen(cert_file.c_str(), "r");
    if (f == nullptr) return false;
    const Owned<X509> cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
    std::fclose(f);
    if (!cert) return false;
    if (is_ip(host)) return X509_check_ip_asc(cert.get(), host.c_str(), 0) == 1;
    return X509_check_host(cert.get(), host.c_str(), host.size(), 0, nullptr) == 1;
}

TlsFiles ensure_self_signed_certificate(const std::string& dir,
                                        const std::vector<std::string>& hosts) {
    TlsFiles files{dir + "/cert.pem", dir + "/key.pem"};
    std::string alt_names = "IP:127.0.0.1,DNS:localhost";
    bool covered = exists(files.cert_file) && exists(files.key_file);
    for (const std::string& host : hosts) {
        if (is_ip(host)) {
            alt_names += ",IP:" + host;
        } else if (plain_dns_name(host)) {
            alt_names += ",DNS:" + host;
        } else {
            fail("\"" + host + "\" is neither an IP address nor a DNS name");
        }
        covered = covered && certificate_names(files.cert_file, host);
    }
    if (covered) return files;
    std::remove(files.cert_file.c_str());
    std::remove(files.key_file.c_str());

    const Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
    if (!key) fail("EC P-256 key generation failed");
    const Owned<X509> cert(X509_new());
    if (!cert) fail("out of memory");
    X509_set_version(cert.get(), 2);  // v3
    unsigned char serial_bytes[16];
    if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) fail("no random serial");
    serial_bytes[0] &= 0x7f;  // positive
    const Owned<BIGNUM> serial(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
    if (!serial || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()))) {
        fail("serial number");
    }
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("ota_console"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    if (X509_set_pubkey(cert.get(), key.get()) != 1) fail("public key");
    add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), NID_key_usage, "critical,digitalSignature");
    add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
    add_extension(cert.get(), NID_subject_key_identifier, "hash");
    add_extension(cert.get(), NID_subject_alt_name, alt_names.c_str());
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) fail("signing");

    const Owned<BIO> key_pem(BIO_new(BIO_s_mem()));
    const Owned<BIO> cert_pem(BIO_new(BIO_s_mem()));
    if (!key_pem || !cert_pem ||
        PEM_write_bio_PrivateKey(key_pem.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
            1 ||
        PEM_write_bio_X509(cert_pem.get(), cert.get()) != 1) {
        fail("PEM encoding");
    }
    write_private_file(files.key_file, bio_text(key_pem.get()));
    write_private_file(files.cert_file, bio_text(cert_pem.get()));
    ::chmod(files.cert_file.c_str(), 0644);
    return files;
}

}  // namespace console
