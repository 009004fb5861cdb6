// Size and digest of a file (see file_digest.hpp).
#include "common/file_digest.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace ota::tools {
namespace {

constexpr std::size_t kPiece = 1024 * 1024;

struct FileCloser {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

Error read_error(const std::string& path, int err) {
    return {Status::storage_failed, "cannot read " + path + ": " + std::strerror(err)};
}

}  // namespace

Error digest_file(const std::string& path, DigestAlgorithm alg, std::uint64_t& size,
                  std::string& hex) {
    errno = 0;
    std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
    if (!file) return read_error(path, errno);
    Hasher hasher;
    if (hasher.start(alg) != Status::ok) return {Status::crypto_failed, "cannot start the digest"};
    std::vector<std::uint8_t> buf(kPiece);
    size = 0;
    for (;;) {
        const std::size_t got = std::fread(buf.data(), 1, buf.size(), file.get());
        if (got > 0) {
            if (hasher.update(buf.data(), got) != Status::ok) {
                return {Status::crypto_failed, "digest update failed"};
            }
            size += got;
        }
        if (got < buf.size()) break;
    }
    if (std::ferror(file.get()) != 0) return read_error(path, errno != 0 ? errno : EIO);
    if (hasher.finish_hex(hex) != Status::ok) {
        return {Status::crypto_failed, "digest finish failed"};
    }
    return {};
}

}  // namespace ota::tools
