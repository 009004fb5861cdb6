// Stored firmware images: see firmware_files.hpp.
#include "http/firmware_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "ota/digest.hpp"

namespace console {

namespace {

void make_dir(const std::string& dir) {
    if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
        throw std::runtime_error("cannot create folder " + dir + ": " + std::strerror(errno));
    }
}

}  // namespace

struct ImageUpload::Impl {
    std::string temp_path;
    int fd = -1;
    ota::Hasher md5;
    ota::Hasher sha256;
    bool failed = false;
    bool committed = false;
};

ImageUpload::ImageUpload(FirmwareFiles& files, std::unique_ptr<Impl> impl)
    : files_(files), impl_(std::move(impl)) {}

ImageUpload::~ImageUpload() {
    if (impl_->fd >= 0) ::close(impl_->fd);
    if (!impl_->committed) ::unlink(impl_->temp_path.c_str());
}

bool ImageUpload::write(const char* data, std::size_t len) {
    if (impl_->failed) return false;
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(data);
    if (impl_->md5.update(bytes, len) != ota::Status::ok ||
        impl_->sha256.update(bytes, len) != ota::Status::ok) {
        impl_->failed = true;
        return false;
    }
    std::size_t done = 0;
    while (done < len) {
        const ssize_t n = ::write(impl_->fd, data + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            impl_->failed = true;
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    size_ += len;
    return true;
}

StoredImage ImageUpload::commit() {
    if (impl_->failed) throw std::runtime_error("the image could not be written to disk");
    StoredImage out;
    out.size = size_;
    if (impl_->md5.finish_hex(out.md5) != ota::Status::ok ||
        impl_->sha256.finish(out.sha256_raw, sizeof out.sha256_raw) != ota::Status::ok) {
        throw std::runtime_error("digest computation failed");
    }
    out.sha256 = ota::to_hex(out.sha256_raw, sizeof out.sha256_raw);
    if (::fsync(impl_->fd) != 0 || ::close(impl_->fd) != 0) {
        impl_->fd = -1;
        throw std::runtime_error(std::string("cannot write the image: ") + std::strerror(errno));
    }
    impl_->fd = -1;
    const std::string final_path = files_.path_of(out.sha256);
    const std::lock_guard<std::mutex> lock(files_.mutex_);
    struct stat st {};
    if (::stat(final_path.c_str(), &st) == 0) {
        out.created = false;  // same content stored before: keep that file, drop this one
        return out;
    }
    if (::rename(impl_->temp_path.c_str(), final_path.c_str()) != 0) {
        throw std::runtime_error(std::string("cannot store the image: ") + std::strerror(errno));
    }
    impl_->committed = true;
    out.created = true;
    return out;
}

FirmwareFiles::FirmwareFiles(const std::string& data_dir) : dir_(data_dir + "/files") {
    make_dir(data_dir);
    make_dir(dir_);
    make_dir(dir_ + "/tmp");
}

std::unique_ptr<ImageUpload> FirmwareFiles::begin() {
    auto impl = std::make_unique<ImageUpload::Impl>();
    std::string templ = dir_ + "/tmp/upload-XXXXXX";
    impl->fd = ::mkostemp(templ.data(), O_CLOEXEC);
    if (impl->fd < 0) {
        throw std::runtime_error("cannot create a temporary file in " + dir_ +
                                 "/tmp: " + std::strerror(errno));
    }
    impl->temp_path = templ;
    ::fchmod(impl->fd, 0640);
    if (impl->md5.start(ota::DigestAlgorithm::md5) != ota::Status::ok ||
        impl->sha256.start(ota::DigestAlgorithm::sha256) != ota::Status::ok) {
        ::close(impl->fd);
        ::unlink(templ.c_str());
        throw std::runtime_error("digest initialisation failed");
    }
    return std::unique_ptr<ImageUpload>(new ImageUpload(*this, std::move(impl)));
}

void FirmwareFiles::discard(const StoredImage& image) {
    if (!image.created) return;
    const std::lock_guard<std::mutex> lock(mutex_);
    ::unlink(path_of(image.sha256).c_str());
}

std::string FirmwareFiles::path_of(const std::string& sha256) const {
    return dir_ + "/" + sha256;
}

}  // namespace console
