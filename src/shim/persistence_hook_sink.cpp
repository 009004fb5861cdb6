// PersistenceHookSink: a FirmwareSink over the HAL_Firmware_Persistence_* hooks.
#include "shim/persistence_hook_sink.hpp"

#include <algorithm>
#include <string>

#include "ota/c_api/iot_export_linkkit.h"
#include "ota/log.hpp"

namespace ota::shim {

PersistenceHookSink::~PersistenceHookSink() {
    stop(0);
}

Status PersistenceHookSink::begin(std::uint64_t /*expected_size*/) {
    stop(0);  // a restarted download (e.g. the server ignored Range) starts over
    HAL_Firmware_Persistence_Start();
    started_ = true;
    written_ = 0;
    return Status::ok;
}

Status PersistenceHookSink::write(std::uint64_t offset, const std::uint8_t* data, std::size_t len) {
    if (!started_) return Status::invalid_state;
    if (offset != written_) {
        log(LogLevel::warning, "persistence hooks are sequential: cannot write at offset " +
                                   std::to_string(offset) + " after " + std::to_string(written_) +
                                   " bytes");
        return Status::storage_failed;
    }
    // The hook takes a 32-bit length and a non-const buffer (the original's signature).
    std::size_t done = 0;
    while (done < len) {
        const std::size_t n = std::min<std::size_t>(len - done, 1U << 30);
        if (HAL_Firmware_Persistence_Write(
                const_cast<char*>(reinterpret_cast<const char*>(data + done)),
                static_cast<std::uint32_t>(n)) < 0) {
            log(LogLevel::warning, "HAL_Firmware_Persistence_Write failed");
            return Status::storage_failed;
        }
        done += n;
    }
    written_ += len;
    return Status::ok;
}

Status PersistenceHookSink::read(std::uint64_t, std::uint8_t*, std::size_t) {
    return Status::invalid_state;  // the hooks cannot read back
}

Status PersistenceHookSink::flush() {
    return Status::ok;
}

Status PersistenceHookSink::commit() {
    if (!started_) return Status::invalid_state;
    return stop(1) < 0 ? Status::storage_failed : Status::ok;
}

void PersistenceHookSink::abort() noexcept {
    stop(0);
}

int PersistenceHookSink::stop(int succeeded) noexcept {
    if (!started_) return 0;
    started_ = false;
    return HAL_Firmware_Persistence_StopEx(succeeded);
}

}  // namespace ota::shim
