// A FirmwareSink test double that keeps the image in a preallocated buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <vector>

#include "ota/firmware_sink.hpp"

namespace ota::test {

/// Stores the image in memory. The buffer is reserved up front (`reserve`), so writes of images
/// up to that size never allocate. Failures can be injected per call.
class MemorySink final : public FirmwareSink {
  public:
    enum class Phase { idle, writing, committed, aborted };

    explicit MemorySink(std::size_t reserve = 0,
                        std::uint64_t capacity = std::numeric_limits<std::uint64_t>::max())
        : capacity_(capacity) {
        data_.reserve(reserve);
    }

    [[nodiscard]] Status begin(std::uint64_t expected_size) override {
        ++begins;
        phase_ = Phase::idle;
        data_.clear();
        written_ = 0;
        if (begin_status != Status::ok) return begin_status;
        if (expected_size > capacity_) return Status::storage_full;
        data_.resize(static_cast<std::size_t>(expected_size));
        phase_ = Phase::writing;
        return Status::ok;
    }

    [[nodiscard]] Status write(std::uint64_t offset, const std::uint8_t* data,
                               std::size_t len) override {
        ++writes;
        if (phase_ != Phase::writing) return Status::invalid_state;
        if (fail_write_at && writes >= *fail_write_at) return write_status;
        if (offset > data_.size() || len > data_.size() - offset) return Status::invalid_argument;
        if (offset != written_) ++out_of_order_writes;
        std::memcpy(data_.data() + offset, data, len);
        written_ = offset + len;
        return Status::ok;
    }

    [[nodiscard]] Status read(std::uint64_t offset, std::uint8_t* out, std::size_t len) override {
        if (phase_ != Phase::writing) return Status::invalid_state;
        if (offset > data_.size() || len > data_.size() - offset) return Status::invalid_argument;
        std::memcpy(out, data_.data() + offset, len);
        return Status::ok;
    }

    [[nodiscard]] Status flush() override {
        return phase_ == Phase::writing ? Status::ok : Status::invalid_state;
    }

    [[nodiscard]] Status commit() override {
        ++commits;
        if (phase_ != Phase::writing) return Status::invalid_state;
        if (commit_status != Status::ok) return commit_status;
        phase_ = Phase::committed;
        return Status::ok;
    }

    void abort() noexcept override {
        ++aborts;
        if (phase_ == Phase::writing) phase_ = Phase::aborted;
    }

    [[nodiscard]] std::uint64_t capacity() const noexcept override { return capacity_; }

    [[nodiscard]] Phase phase() const noexcept { return phase_; }
    /// The image as written (the committed one after commit()).
    [[nodiscard]] const std::vector<std::uint8_t>& data() const noexcept { return data_; }
    /// End of the last write.
    [[nodiscard]] std::uint64_t written() const noexcept { return written_; }
    /// Capacity of the internal buffer (to check it never grew).
    [[nodiscard]] std::size_t buffer_capacity() const noexcept { return data_.capacity(); }

    // Failure injection and counters (public for brevity in tests).
    Status begin_status = Status::ok;
    Status commit_status = Status::ok;
    std::optional<std::size_t> fail_write_at;      ///< the N-th write() (1-based) and later fail...
    Status write_status = Status::storage_failed;  ///< ...with this status
    std::size_t begins = 0;
    std::size_t writes = 0;
    std::size_t commits = 0;
    std::size_t aborts = 0;
    std::size_t out_of_order_writes = 0;

  private:
    std::uint64_t capacity_;
    std::vector<std::uint8_t> data_;
    std::uint64_t written_ = 0;
    Phase phase_ = Phase::idle;
};

}  // namespace ota::test
