// DiscardSink and FailingSink: see sim_sinks.hpp.
#include "sim_sinks.hpp"

namespace ota::fleet {

Status DiscardSink::begin(std::uint64_t expected_size) {
    open_ = true;
    expected_ = expected_size;
    written_ = 0;
    return Status::ok;
}

Status DiscardSink::write(std::uint64_t offset, const std::uint8_t* data, std::size_t len) {
    (void)data;
    if (!open_) return Status::invalid_state;
    if (offset > expected_ || len > expected_ - offset) return Status::invalid_argument;
    if (offset + len > written_) written_ = offset + len;
    return Status::ok;
}

Status DiscardSink::read(std::uint64_t offset, std::uint8_t* out, std::size_t len) {
    (void)offset;
    (void)out;
    (void)len;
    return open_ ? Status::storage_failed : Status::invalid_state;
}

Status DiscardSink::flush() {
    return open_ ? Status::ok : Status::invalid_state;
}

Status DiscardSink::commit() {
    if (!open_) return Status::invalid_state;
    open_ = false;
    ++commits_;
    return Status::ok;
}

void DiscardSink::abort() noexcept {
    open_ = false;
    written_ = 0;
}

Status FailingSink::write(std::uint64_t offset, const std::uint8_t* data, std::size_t len) {
    if (fail_at_ && !failed_ && offset + len > *fail_at_) {
        failed_ = true;
        return Status::storage_failed;
    }
    return inner_.write(offset, data, len);
}

std::string FailingSink::error_detail() const {
    if (failed_) return "write failed on purpose (fleet simulator)";
    return inner_.error_detail();
}

}  // namespace ota::fleet
