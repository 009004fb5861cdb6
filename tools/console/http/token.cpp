// Token and secret files: see token.hpp.
#include "http/token.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "ota/digest.hpp"

namespace console {

namespace {

std::string errno_text() {
    return std::strerror(errno);
}

void make_parent_dirs(const std::string& path) {
    for (std::size_t pos = path.find('/', 1); pos != std::string::npos;
         pos = path.find('/', pos + 1)) {
        const std::string dir = path.substr(0, pos);
        if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
            throw std::runtime_error("cannot create folder " + dir + ": " + errno_text());
        }
    }
}

std::string trim(const std::string& s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    const auto last = s.find_last_not_of(" \t\r\n");
    return s.substr(first, last - first + 1);
}

}  // namespace

std::string random_hex(std::size_t bytes) {
    std::vector<unsigned char> buf(bytes);
    if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) {
        throw std::runtime_error("the random number generator failed");
    }
    return ota::to_hex(buf.data(), buf.size());
}

void write_private_file(const std::string& path, const std::string& content) {
    make_parent_dirs(path);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + path + ": " + errno_text());
    std::size_t done = 0;
    while (done < content.size()) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const std::string why = errno_text();
            ::close(fd);
            ::unlink(path.c_str());
            throw std::runtime_error("cannot write " + path + ": " + why);
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        throw std::runtime_error("cannot write " + path + ": " + errno_text());
    }
}

std::string read_small_file(const std::string& path, std::size_t max_bytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::string out(max_bytes + 1, '\0');
    in.read(out.data(), static_cast<std::streamsize>(out.size()));
    if (in.bad()) throw std::runtime_error("cannot read " + path);
    out.resize(static_cast<std::size_t>(in.gcount()));
    if (out.size() > max_bytes) {
        throw std::runtime_error(path + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
    return out;
}

std::string load_or_create_token(const std::string& path,
                                 const std::function<void(const std::string&)>& printed_once) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        std::string token = trim(read_small_file(path, 4096));
        if (token.empty()) throw std::runtime_error("token file " + path + " is empty");
        return token;
    }
    if (errno != ENOENT) throw std::runtime_error("cannot read " + path + ": " + errno_text());
    std::string token = random_hex(32);
    write_private_file(path, token + "\n");
    if (printed_once) printed_once(token);
    return token;
}

bool secrets_equal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace console
