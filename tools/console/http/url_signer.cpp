// Signed firmware URLs: see url_signer.hpp.
#include "http/url_signer.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include <stdexcept>
#include <utility>

#include "http/request.hpp"
#include "http/token.hpp"
#include "ota/digest.hpp"

namespace console {

std::string strip_trailing_slash(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

std::optional<UrlBase> parse_url_base(const std::string& url) {
    UrlBase out;
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string::npos) return std::nullopt;
    out.scheme = url.substr(0, scheme_end);
    if (out.scheme != "http" && out.scheme != "https") return std::nullopt;
    const std::string rest = url.substr(scheme_end + 3);
    const std::string authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.empty() || authority.find_first_of("@ \t\r\n") != std::string::npos) {
        return std::nullopt;
    }
    std::string port;
    if (authority[0] == '[') {
        const auto close = authority.find(']');
        if (close == std::string::npos || close == 1) return std::nullopt;
        out.host = authority.substr(1, close - 1);
        const std::string after = authority.substr(close + 1);
        if (!after.empty() && after[0] != ':') return std::nullopt;
        if (!after.empty()) port = after.substr(1);
    } else {
        const auto colon = authority.find(':');
        out.host = authority.substr(0, colon);
        if (colon != std::string::npos) port = authority.substr(colon + 1);
        if (out.host.empty()) return std::nullopt;
    }
    if (!port.empty() || authority.back() == ':') {
        if (!http::all_digits(port) || port.size() > 5 || std::stoi(port) < 1 ||
            std::stoi(port) > 65535) {
            return std::nullopt;
        }
        out.port = std::stoi(port);
    }
    return out;
}

UrlSigner::UrlSigner(const std::string& data_dir, const WallClock& clock, Millis ttl_ms,
                     std::string public_base_url)
    : clock_(clock),
      ttl_ms_(ttl_ms),
      public_base_(strip_trailing_slash(std::move(public_base_url))) {
    const std::string path = data_dir + "/url-secret";
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) write_private_file(path, random_hex(32) + "\n");
    secret_ = read_small_file(path, 4096);
    while (!secret_.empty() && (secret_.back() == '\n' || secret_.back() == '\r')) {
        secret_.pop_back();
    }
    if (secret_.size() < 32) throw std::runtime_error(path + " holds no usable secret");
}

UrlSigner::UrlSigner(UrlSecret secret, const WallClock& clock, Millis ttl_ms,
                     std::string public_base_url)
    : secret_(std::move(secret.value)),
      clock_(clock),
      ttl_ms_(ttl_ms),
      public_base_(strip_trailing_slash(std::move(public_base_url))) {
    if (secret_.size() < 32) throw std::runtime_error("the URL secret is shorter than 32 bytes");
}

void UrlSigner::set_base(std::string base) {
    const std::lock_guard<std::mutex> lock(mutex_);
    base_ = strip_trailing_slash(std::move(base));
}

std::string UrlSigner::base() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return base_;
}

std::string UrlSigner::signature(std::string_view sha256, std::int64_t firmware_id,
                                 Millis expires) const {
    const std::string message = "/files/" + std::string(sha256) + "\n" +
                                std::to_string(firmware_id) + "\n" + std::to_string(expires);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac,
             &mac_len) == nullptr) {
        throw std::runtime_error("HMAC-SHA256 failed");
    }
    return ota::to_hex(mac, mac_len);
}

std::string UrlSigner::url_for(const Firmware& firmware) const {
    if (!public_base_.empty()) return public_base_ + "/" + firmware.sha256;
    const Millis expires = clock_.now() + ttl_ms_;
    return base() + "/files/" + firmware.sha256 + "?fw=" + std::to_string(firmware.id) +
           "&exp=" + std::to_string(expires) +
           "&sig=" + signature(firmware.sha256, firmware.id, expires);
}

UrlSigner::Check UrlSigner::check(std::string_view sha256, std::int64_t firmware_id, Millis expires,
                                  std::string_view signature_hex) const {
    if (!secrets_equal(signature(sha256, firmware_id, expires), signature_hex)) {
        return Check::bad_signature;
    }
    return expires < clock_.now() ? Check::expired : Check::ok;
}

}  // namespace console
