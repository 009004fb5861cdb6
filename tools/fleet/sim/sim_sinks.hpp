// Where a simulated device's image goes: nowhere (hash only, the default: the client hashes
// every byte anyway), or a real sink that can be made to fail on purpose.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "ota/firmware_sink.hpp"

namespace ota::fleet {

/// Accepts every image and keeps nothing: the fleet's default, so that thousands of devices
/// verify their downloads (the client hashes each byte) without storing them. Capacity is
/// unlimited; read() is refused (there is nothing to read back), so crash resume is never used.
class DiscardSink final : public FirmwareSink {
  public:
    Status begin(std::uint64_t expected_size) override;
    Status write(std::uint64_t offset, const std::uint8_t* data, std::size_t len) override;
    Status read(std::uint64_t offset, std::uint8_t* out, std::size_t len) override;
    Status flush() override;
    Status commit() override;
    void abort() noexcept override;
    /// Bytes written since begin().
    [[nodiscard]] std::uint64_t written() const noexcept { return written_; }
    /// Images committed.
    [[nodiscard]] std::uint64_t commits() const noexcept { return commits_; }

  private:
    bool open_ = false;
    std::uint64_t expected_ = 0;
    std::uint64_t written_ = 0;
    std::uint64_t commits_ = 0;
};

/// Wraps another sink and fails the first write that reaches byte `fail_at` of the image with
/// storage_failed (the client then reports step -4), once per arm(). Everything else is passed
/// through.
class FailingSink final : public FirmwareSink {
  public:
    /// `inner` must outlive this sink.
    explicit FailingSink(FirmwareSink& inner) : inner_(inner) {}
    /// Fails the write that reaches `fail_at` (nullopt: never fails).
    void arm(std::optional<std::uint64_t> fail_at) noexcept {
        fail_at_ = fail_at;
        failed_ = false;
    }
    /// Whether the armed failure happened.
    [[nodiscard]] bool failed() const noexcept { return failed_; }
    /// The wrapped sink.
    [[nodiscard]] FirmwareSink& inner() const noexcept { return inner_; }

    Status begin(std::uint64_t expected_size) override { return inner_.begin(expected_size); }
    Status write(std::uint64_t offset, const std::uint8_t* data, std::size_t len) override;
    Status read(std::uint64_t offset, std::uint8_t* out, std::size_t len) override {
        return inner_.read(offset, out, len);
    }
    Status flush() override { return inner_.flush(); }
    Status commit() override { return inner_.commit(); }
    void abort() noexcept override { inner_.abort(); }
    void suspend() noexcept override { inner_.suspend(); }
    [[nodiscard]] std::string error_detail() const override;
    [[nodiscard]] std::uint64_t capacity() const noexcept override { return inner_.capacity(); }

  private:
    FirmwareSink& inner_;
    std::optional<std::uint64_t> fail_at_;
    bool failed_ = false;
};

}  // namespace ota::fleet
