// Signed firmware URLs: see url_signer.hpp.
#include "http/url_signer.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include <stdexcept>

#include "http/token.hpp"

namespace console {

namespace {

std::string strip_slash(std::string s) {
    while (!s.empty() && s.back() == '/') s.pop_back();
    return s;
}

}  // namespace

UrlSigner::UrlSigner(const std::string& data_dir, const WallClock& clock, Millis ttl_ms,
                     std::string public_base_url)
    : clock_(clock), ttl_ms_(ttl_ms), public_base_(strip_slash(std::move(public_base_url))) {
    const std::string path = data_dir + "/url-secret";
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) write_private_file(path, random_hex(32) + "\n");
    secret_ = read_small_file(path, 4096);
    while (!secret_.empty() && (secret_.back() == '\n' || secret_.back() == '\r')) {
        secret_.pop_back();
    }
    if (secret_.size() < 32) throw std::runtime_error(path + " holds no usable secret");
}

void UrlSigner::set_base(std::string base) {
    const std::lock_guard<std::mutex> lock(mutex_);
    base_ = strip_slash(std::move(base));
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
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < mac_len; ++i) {
        out.push_back(kHex[mac[i] >> 4]);
        out.push_back(kHex[mac[i] & 0xf]);
    }
    return out;
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
