// SignatureVerifier::add_public_key_file: the one part of signature verification that reads a
// file. It lives in ota::hal_posix so that ota::core stays free of file I/O; firmware without a
// file system passes the key's bytes to add_public_key() instead.
#include <fstream>
#include <iterator>
#include <string>

#include "ota/signature.hpp"

namespace ota {
namespace {

/// A PEM or DER public key is a few KiB at most; anything larger is not a key.
constexpr std::size_t kMaxKeyFileSize = 64 * 1024;

}  // namespace

Error SignatureVerifier::add_public_key_file(const std::string& path, std::string key_id) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {Status::invalid_argument, "cannot open key file " + path};
    std::string data;
    try {
        data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } catch (const std::exception&) {
        return {Status::invalid_argument, "cannot read key file " + path};
    }
    if (in.bad()) return {Status::invalid_argument, "cannot read key file " + path};
    if (data.size() > kMaxKeyFileSize) {
        return {Status::invalid_argument, "key file " + path + " is larger than 64 KiB"};
    }
    Error e = add_public_key(data, std::move(key_id));
    if (!e.ok()) e.detail = path + ": " + e.detail;
    return e;
}

}  // namespace ota
