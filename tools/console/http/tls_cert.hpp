// The HTTPS server's certificate when none is given: a self-signed EC P-256 certificate for
// 127.0.0.1 and localhost, generated once into <data>/tls/ with OpenSSL.
//
// Why generated and kept: TLS is on by default, and a console that only runs on a developer's
// machine has no certificate to give; reusing the files keeps the certificate stable across
// restarts, so a client that pinned it (curl --cacert <data>/tls/cert.pem) keeps working.
#pragma once

#include <string>

namespace console {

/// The PEM files of a server certificate and its private key.
struct TlsFiles {
    std::string cert_file;
    std::string key_file;
};

/// `dir`/cert.pem and `dir`/key.pem; generated (key mode 0600, valid for 10 years, subject
/// alternative names IP:127.0.0.1 and DNS:localhost) when either is missing. Throws
/// std::runtime_error with the reason when they cannot be made.
[[nodiscard]] TlsFiles ensure_self_signed_certificate(const std::string& dir);

}  // namespace console
