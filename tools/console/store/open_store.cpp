// open_store(): which database a console uses, and the SQLite data directory's lock.
//
// Why a lock file: SQLite itself would let two consoles share console.db, but both would then run
// a scheduler and push every task twice. An exclusive flock on <data>/console.lock (released by
// the kernel when the process dies, so a crash never leaves it stale) makes the second console
// fail at start with a clear message instead.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "store/db.hpp"
#include "store/sql_store.hpp"
#include "store/store.hpp"

namespace console {

namespace {

/// An open, flock()ed file descriptor; closing it releases the lock.
class DirLock {
  public:
    explicit DirLock(const std::string& path)
        : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
        if (fd_ < 0) {
            throw std::runtime_error("store: cannot open " + path + ": " + std::strerror(errno));
        }
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            const int err = errno;
            ::close(fd_);
            if (err == EWOULDBLOCK) {
                throw std::runtime_error(
                    "store: another ota_console is using this data directory (" + path +
                    " is locked)");
            }
            throw std::runtime_error("store: cannot lock " + path + ": " + std::strerror(err));
        }
    }
    ~DirLock() { ::close(fd_); }
    DirLock(const DirLock&) = delete;
    DirLock& operator=(const DirLock&) = delete;

  private:
    int fd_;
};

bool starts_with(const std::string& s, const char* prefix) {
    return s.rfind(prefix, 0) == 0;
}

}  // namespace

namespace sql {

std::string redact_url(const std::string& url) {
    std::string out = url;
    const std::size_t scheme = out.find("://");
    if (scheme != std::string::npos) {
        const std::size_t start = scheme + 3;
        const std::size_t end = out.find_first_of("/?", start);
        const std::size_t at = out.rfind('@', end == std::string::npos ? out.size() : end);
        if (at != std::string::npos && at > start) {
            const std::size_t colon = out.find(':', start);
            if (colon != std::string::npos && colon < at) {
                out.replace(colon + 1, at - colon - 1, "***");
            }
        }
    }
    // password=... among the query parameters
    for (std::size_t pos = out.find("password="); pos != std::string::npos;
         pos = out.find("password=", pos + 1)) {
        const std::size_t value = pos + 9;
        const std::size_t end = out.find('&', value);
        out.replace(value, (end == std::string::npos ? out.size() : end) - value, "***");
    }
    return out;
}

}  // namespace sql

std::unique_ptr<Store> open_store(const std::string& data_dir, const std::string& db_url) {
    if (starts_with(db_url, "postgresql://") || starts_with(db_url, "postgres://")) {
        return sql::make_sql_store(sql::open_postgresql(db_url));
    }
    if (!db_url.empty()) {
        throw std::runtime_error("store: unsupported database URL " + sql::redact_url(db_url) +
                                 " (expected postgresql://...; without one the data directory's "
                                 "SQLite database is used)");
    }
    if (data_dir.empty()) throw std::runtime_error("store: no data directory given");
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    if (ec) {
        throw std::runtime_error("store: cannot create data directory " + data_dir + ": " +
                                 ec.message());
    }
    auto lock = std::make_shared<const DirLock>(data_dir + "/console.lock");
    return sql::make_sql_store(sql::open_sqlite(data_dir + "/console.db"), std::move(lock));
}

}  // namespace console
