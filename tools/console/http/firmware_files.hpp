// Firmware images on disk: <data>/files/<sha256>, written through a temporary file while their
// digests are computed.
//
// Why content-addressed and streamed: an upload may be a gigabyte, so it is never held in memory;
// MD5 and SHA-256 are computed with the SDK's own Hasher (the same code a device checks the
// image with) as the bytes arrive; the file is renamed to its SHA-256 only when complete, so a
// half-written image is never served, and the same image uploaded twice is stored once.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

namespace console {

/// What an upload turned into.
struct StoredImage {
    std::uint64_t size = 0;
    std::string md5;     ///< lowercase hex
    std::string sha256;  ///< lowercase hex
    std::uint8_t sha256_raw[32] = {};
    /// True when this upload created <data>/files/<sha256>; false when the same content was
    /// there already (then discard() must not remove it).
    bool created = false;
};

class FirmwareFiles;

/// One upload in progress: a temporary file plus the running digests. The temporary file is
/// removed unless commit() succeeds (RAII).
class ImageUpload {
  public:
    ImageUpload(const ImageUpload&) = delete;
    ImageUpload& operator=(const ImageUpload&) = delete;
    ~ImageUpload();

    /// Appends bytes; false (and the upload is unusable) when the disk write fails.
    [[nodiscard]] bool write(const char* data, std::size_t len);
    [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
    /// Finishes the digests and moves the file to its content address. Throws
    /// std::runtime_error when the file cannot be written.
    [[nodiscard]] StoredImage commit();

  private:
    friend class FirmwareFiles;
    struct Impl;
    ImageUpload(FirmwareFiles& files, std::unique_ptr<Impl> impl);
    FirmwareFiles& files_;
    std::unique_ptr<Impl> impl_;
    std::uint64_t size_ = 0;
};

/// The folder of stored images. Thread-safe.
class FirmwareFiles {
  public:
    /// Creates <data_dir>/files and <data_dir>/files/tmp when missing. Throws
    /// std::runtime_error when it cannot.
    explicit FirmwareFiles(const std::string& data_dir);

    /// Starts an upload (a new temporary file). Throws std::runtime_error when it cannot.
    [[nodiscard]] std::unique_ptr<ImageUpload> begin();
    /// Removes an image this process just created (its record could not be stored).
    void discard(const StoredImage& image);
    /// Path of the image with this SHA-256 (it may not exist).
    [[nodiscard]] std::string path_of(const std::string& sha256) const;

  private:
    friend class ImageUpload;
    std::string dir_;
    std::mutex mutex_;  ///< orders the rename-or-drop of identical uploads
};

}  // namespace console
