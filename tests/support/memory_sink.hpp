// A FirmwareSink test double that keeps the image in a preallocated buffer.
#pragma once

#include <algorithm>
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
///
/// Crash resume: the sink keeps a resume record and a partial image like a file-based sink would.
/// Copy the sink and call power_cycle() on the copy to get what a device finds after a crash:
/// the partial image (bytes written after the last flush() are scrambled) and the last record.
class MemorySink final : public FirmwareSink {
  public:
    enum class Phase { idle, writing, committed, aborted };

    explicit MemorySink(std::size_t reserve = 0,
                        std::uint64_t capacity = std::numeric_limits<std::uint64_t>::max())
        : capacity_(capacity) {
        data_.reserve(reserve);
        record_.reserve(FirmwareSink::kMaxResumeRecordSize);
    }

    [[nodiscard]] Status begin(std::uint64_t expected_size) override {
        ++begins;
        phase_ = Phase::idle;
        data_.clear();
        written_ = 0;
        stored_ = 0;
        flushed_ = 0;
        has_partial_ = false;
        if (begin_status != Status::ok) return begin_status;
        if (expected_size > capacity_ || expected_size > data_.max_size()) {
            return Status::storage_full;  // never a size cut to what size_t holds
        }
        data_.resize(static_cast<std::size_t>(expected_size));
        phase_ = Phase::writing;
        has_partial_ = true;
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
        stored_ = std::max<std::uint64_t>(stored_, written_);
        return Status::ok;
    }

    [[nodiscard]] Status read(std::uint64_t offset, std::uint8_t* out, std::size_t len) override {
        ++reads;
        if (phase_ != Phase::writing) return Status::invalid_state;
        if (read_status != Status::ok) return read_status;
        if (offset > data_.size() || len > data_.size() - offset) return Status::invalid_argument;
        std::memcpy(out, data_.data() + offset, len);
        return Status::ok;
    }

    [[nodiscard]] Status flush() override {
        ++flushes;
        if (phase_ != Phase::writing) return Status::invalid_state;
        if (flush_status != Status::ok) return flush_status;
        flushed_ = stored_;
        return Status::ok;
    }

    [[nodiscard]] Status commit() override {
        ++commits;
        if (phase_ != Phase::writing) return Status::invalid_state;
        if (commit_status != Status::ok) return commit_status;
        phase_ = Phase::committed;
        has_partial_ = false;
        return Status::ok;
    }

    void abort() noexcept override {
        ++aborts;
        if (phase_ == Phase::writing) phase_ = Phase::aborted;
        has_partial_ = false;
    }

    /// A stop: the partial image and the record stay for resume(), as after a restart.
    void suspend() noexcept override {
        ++suspends;
        if (phase_ == Phase::writing) phase_ = Phase::idle;
    }

    [[nodiscard]] std::uint64_t capacity() const noexcept override { return capacity_; }

    [[nodiscard]] Status resume(std::uint64_t expected_size, std::uint64_t& stored) override {
        ++resumes;
        stored = 0;
        if (!resume_supported) return Status::invalid_state;
        phase_ = Phase::idle;
        if (expected_size > capacity_ || expected_size > data_.max_size()) {
            return Status::storage_full;
        }
        if (!has_partial_) return Status::storage_failed;
        if (stored_ > expected_size) {
            has_partial_ = false;
            return Status::invalid_argument;
        }
        data_.resize(static_cast<std::size_t>(expected_size));
        written_ = stored_;
        phase_ = Phase::writing;
        stored = stored_;
        return Status::ok;
    }

    [[nodiscard]] Status save_record(const std::uint8_t* data, std::size_t len) override {
        ++record_saves;
        if (!resume_supported) return Status::invalid_state;
        if (save_status != Status::ok) return save_status;
        if (len > kMaxResumeRecordSize) return Status::invalid_argument;
        record_.assign(data, data + len);
        return Status::ok;
    }

    [[nodiscard]] Status load_record(std::vector<std::uint8_t>& out) override {
        ++record_loads;
        out.clear();
        if (!resume_supported) return Status::invalid_state;
        if (load_status != Status::ok) return load_status;
        out = record_;
        return Status::ok;
    }

    void clear_record() noexcept override {
        ++record_clears;
        record_.clear();
    }

    /// What survives a power cut: the sink becomes idle (as after a restart), keeps its partial
    /// image and record, and the bytes written after the last flush() are scrambled (what is
    /// left is then what the medium holds).
    void power_cycle() noexcept {
        phase_ = Phase::idle;
        for (std::uint64_t i = flushed_; i < stored_ && i < data_.size(); ++i) {
            data_[static_cast<std::size_t>(i)] ^= 0x5A;
        }
        flushed_ = stored_;
    }

    /// Replaces the stored record (e.g. with garbage).
    void set_record(std::vector<std::uint8_t> record) { record_ = std::move(record); }
    [[nodiscard]] const std::vector<std::uint8_t>& record() const noexcept { return record_; }

    [[nodiscard]] Phase phase() const noexcept { return phase_; }
    /// The image as written (the committed one after commit()).
    [[nodiscard]] const std::vector<std::uint8_t>& data() const noexcept { return data_; }
    /// End of the last write.
    [[nodiscard]] std::uint64_t written() const noexcept { return written_; }
    /// Length of the partial image (the highest byte written since begin()).
    [[nodiscard]] std::uint64_t stored() const noexcept { return stored_; }
    /// Bytes made durable by the last flush().
    [[nodiscard]] std::uint64_t flushed() const noexcept { return flushed_; }
    /// Capacity of the internal buffer (to check it never grew).
    [[nodiscard]] std::size_t buffer_capacity() const noexcept { return data_.capacity(); }

    // Failure injection and counters (public for brevity in tests).
    bool resume_supported = true;  ///< false: resume and the record report "not supported"
    Status begin_status = Status::ok;
    Status commit_status = Status::ok;
    Status read_status = Status::ok;
    Status flush_status = Status::ok;
    Status save_status = Status::ok;
    Status load_status = Status::ok;
    std::optional<std::size_t> fail_write_at;      ///< the N-th write() (1-based) and later fail...
    Status write_status = Status::storage_failed;  ///< ...with this status
    std::size_t begins = 0;
    std::size_t writes = 0;
    std::size_t reads = 0;
    std::size_t flushes = 0;
    std::size_t commits = 0;
    std::size_t aborts = 0;
    std::size_t suspends = 0;
    std::size_t resumes = 0;
    std::size_t record_saves = 0;
    std::size_t record_loads = 0;
    std::size_t record_clears = 0;
    std::size_t out_of_order_writes = 0;

  private:
    std::uint64_t capacity_;
    std::vector<std::uint8_t> data_;
    std::vector<std::uint8_t> record_;
    std::uint64_t written_ = 0;
    std::uint64_t stored_ = 0;
    std::uint64_t flushed_ = 0;
    bool has_partial_ = false;
    Phase phase_ = Phase::idle;
};

}  // namespace ota::test
