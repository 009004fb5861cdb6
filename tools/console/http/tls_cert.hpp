// The HTTPS server's certificate when none is given: a self-signed EC P-256 certificate for
// 127.0.0.1, localhost and the hosts the console is advertised at (--public-url), generated
// into <data>/tls/ with OpenSSL.
//
// Why generated and kept: TLS is on by default, and a console that only runs on a developer's
// machine has no certificate to give; reusing the files keeps the certificate stable across
// restarts, so a client that pinned it (curl --cacert <data>/tls/cert.pem) keeps working (it
// is only replaced when a new --public-url host is not named in it).
#pragma once

#include <string>
#include <vector>

namespace console {

/// The PEM files of a server certificate and its private key.
struct TlsFiles {
    std::string cert_file;
    std::string key_file;
};

/// `dir`/cert.pem and `dir`/key.pem; generated (key mode 0600, valid for 10 years, subject
/// alternative names IP:127.0.0.1, DNS:localhost and each of `hosts`: IP: for an address,
/// DNS: for a name) when either is missing or the kept certificate does not name every host
/// of `hosts` (it is then replaced). Throws std::runtime_error with the reason when they cannot
/// be made, or for a host that cannot be a name in a certificate.
[[nodiscard]] TlsFiles ensure_self_signed_certificate(const std::string& dir,
                                                      const std::vector<std::string>& hosts = {});

/// True when the PEM certificate in `cert_file` names `host` (an IP address or a DNS name).
[[nodiscard]] bool certificate_names(const std::string& cert_file, const std::string& host);

}  // namespace console
