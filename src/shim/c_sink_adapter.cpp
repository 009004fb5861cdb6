// make_c_sink: a FirmwareSink over the C persistence HAL (ota_persistence_hal_t).
//
// The adapter enforces the FirmwareSink contract (state, ranges, capacity) itself, so a C HAL only
// sees calls that make sense, and maps the HAL's int results onto Status:
//   0                     -> ok
//   OTA_PERSIST_ERR_FULL  -> storage_full
//   any other negative    -> storage_failed
//   any positive value    -> storage_failed (the header defines success as exactly 0; a positive
//                            value is a HAL bug, so it is logged rather than taken as success)
#include "ota/c_api/c_sink_adapter.hpp"

#include <new>
#include <string>
#include <vector>

#include "ota/log.hpp"

// ota_persistence.h promises C HAL authors that save_record never gets more than 16 KiB.
static_assert(ota::FirmwareSink::kMaxResumeRecordSize == 16 * 1024,
              "ota_persistence.h documents the resume record limit as 16 KiB");

namespace ota {
namespace {

class CHalSink final : public FirmwareSink {
  public:
    explicit CHalSink(const ota_persistence_hal_t& hal) noexcept : hal_(hal) {}
    ~CHalSink() override { abort(); }
    CHalSink(const CHalSink&) = delete;
    CHalSink& operator=(const CHalSink&) = delete;

    Status begin(std::uint64_t expected_size) override {
        // As with FileSink, a refused begin() still drops the earlier job, so the sink is idle
        // afterwards. The begin hook is not called for an image that cannot fit.
        abort();
        if (expected_size > capacity()) return Status::storage_full;
        hal_may_hold_image_ = true;  // even a failing begin hook may have left something behind
        const Status s = map_result("begin", hal_.begin(hal_.ctx, expected_size));
        if (s == Status::ok) {
            open_ = true;
            expected_size_ = expected_size;
        }
        return s;
    }

    Status write(std::uint64_t offset, const std::uint8_t* data, std::size_t len) override {
        if (!open_) return Status::invalid_state;
        if (!range_fits(offset, len) || (data == nullptr && len > 0)) {
            return Status::invalid_argument;
        }
        return map_result("write", hal_.write(hal_.ctx, offset, data, len));
    }

    Status read(std::uint64_t offset, std::uint8_t* out, std::size_t len) override {
        if (!open_ || hal_.read == nullptr) return Status::invalid_state;
        if (!range_fits(offset, len) || (out == nullptr && len > 0)) {
            return Status::invalid_argument;
        }
        return map_result("read", hal_.read(hal_.ctx, offset, out, len));
    }

    Status flush() override {
        if (!open_) return Status::invalid_state;
        if (hal_.flush == nullptr) return Status::ok;
        return map_result("flush", hal_.flush(hal_.ctx));
    }

    Status commit() override {
        if (!open_) return Status::invalid_state;
        const Status s = map_result("commit", hal_.commit(hal_.ctx));
        // After a failed commit the job stays open: the caller decides between retrying and
        // abort(), which lets the HAL drop its partial image.
        if (s == Status::ok) {
            open_ = false;
            hal_may_hold_image_ = false;
        }
        return s;
    }

    void abort() noexcept override {
        // The abort hook runs only when a begin hook ran since the last commit/abort, so a HAL is
        // never asked to drop an image it was never told about.
        if (hal_may_hold_image_ && hal_.abort != nullptr) hal_.abort(hal_.ctx);
        hal_may_hold_image_ = false;
        open_ = false;
        expected_size_ = 0;
    }

    void suspend() noexcept override {
        // A stop: a HAL that can resume keeps its partial image and record for the next run, so
        // its abort hook is not called (nor later by the destructor). One that cannot resume has
        // nothing worth keeping.
        if (!resumable()) return abort();
        hal_may_hold_image_ = false;
        open_ = false;
        expected_size_ = 0;
    }

    std::uint64_t capacity() const noexcept override {
        return hal_.capacity == 0 ? FirmwareSink::capacity() : hal_.capacity;
    }

    Status resume(std::uint64_t expected_size, std::uint64_t& stored) override {
        stored = 0;
        if (!resumable()) return Status::invalid_state;
        abort();  // as begin(): an open job is dropped first
        if (expected_size > capacity()) return Status::storage_full;
        std::uint64_t length = 0;
        hal_may_hold_image_ = true;  // the partial image is the HAL's again: abort() must reach it
        const Status s = map_result("resume", hal_.resume(hal_.ctx, expected_size, &length));
        if (s != Status::ok || length > expected_size) {
            // Idle afterwards, and the HAL drops whatever it may have reopened: the client
            // begins the image afresh next.
            abort();
            return s != Status::ok ? s : Status::invalid_argument;
        }
        open_ = true;
        expected_size_ = expected_size;
        stored = length;
        return Status::ok;
    }

    Status save_record(const std::uint8_t* data, std::size_t len) override {
        if (!resumable()) return Status::invalid_state;
        if (len > kMaxResumeRecordSize || (data == nullptr && len > 0)) {
            return Status::invalid_argument;
        }
        return map_result("save_record", hal_.save_record(hal_.ctx, data, len));
    }

    Status load_record(std::vector<std::uint8_t>& out) override {
        out.clear();
        if (!resumable()) return Status::invalid_state;
        out.resize(kMaxResumeRecordSize);
        std::size_t len = 0;
        const Status s =
            map_result("load_record", hal_.load_record(hal_.ctx, out.data(), out.size(), &len));
        if (s != Status::ok || len > out.size()) {
            out.clear();
            return s != Status::ok ? s : Status::storage_failed;
        }
        out.resize(len);
        return Status::ok;
    }

    void clear_record() noexcept override {
        if (resumable()) hal_.clear_record(hal_.ctx);
    }

  private:
    /// Resuming needs every resume hook and read (for re-hashing the stored bytes).
    bool resumable() const noexcept {
        return hal_.resume != nullptr && hal_.save_record != nullptr &&
               hal_.load_record != nullptr && hal_.clear_record != nullptr && hal_.read != nullptr;
    }

    bool range_fits(std::uint64_t offset, std::size_t len) const noexcept {
        return offset <= expected_size_ &&
               static_cast<std::uint64_t>(len) <= expected_size_ - offset;
    }

    static Status map_result(const char* hook, int rc) {
        if (rc == OTA_PERSIST_OK) return Status::ok;
        if (rc == OTA_PERSIST_ERR_FULL) return Status::storage_full;
        if (rc > 0) {
            log(LogLevel::warning, std::string("persistence HAL: ") + hook + " hook returned " +
                                       std::to_string(rc) +
                                       " (success is 0); treated as a storage failure");
        }
        return Status::storage_failed;
    }

    ota_persistence_hal_t hal_;
    std::uint64_t expected_size_ = 0;
    bool open_ = false;  // begin() succeeded and neither commit() nor abort() followed
    bool hal_may_hold_image_ = false;  // the begin hook ran since the last commit/abort
};

}  // namespace

std::unique_ptr<FirmwareSink> make_c_sink(const ota_persistence_hal_t& hal, std::string* why) {
    const char* missing = nullptr;
    if (hal.begin == nullptr) {
        missing = "begin";
    } else if (hal.write == nullptr) {
        missing = "write";
    } else if (hal.commit == nullptr) {
        missing = "commit";
    }
    try {
        if (missing != nullptr) {
            if (why != nullptr) {
                *why = std::string("persistence HAL: required hook '") + missing + "' is NULL";
            }
            return nullptr;
        }
        std::unique_ptr<FirmwareSink> sink(new (std::nothrow) CHalSink(hal));
        if (why != nullptr) *why = sink ? "" : "persistence HAL: out of memory";
        return sink;
    } catch (const std::bad_alloc&) {
        // Only the `why` text can throw; the caller still learns of the failure through nullptr.
        return nullptr;
    }
}

}  // namespace ota
