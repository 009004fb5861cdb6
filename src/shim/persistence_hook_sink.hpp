// The FirmwareSink that IOT_Linkkit_Query(QUERY_FOTA_DATA) downloads into: the application's
// sequential HAL_Firmware_Persistence_* hooks (iot_export_linkkit.h). Private to src/shim.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ota/firmware_sink.hpp"

namespace ota::shim {

/// Feeds the image to the application's sequential HAL_Firmware_Persistence_* hooks. Stop (via
/// StopEx) is called exactly once for every Start, whatever the outcome: StopEx(1) from commit(),
/// StopEx(0) from abort(), from a restarted begin() and from the destructor. The hooks cannot
/// read back, so read() is invalid_state and crash resume is never offered.
class PersistenceHookSink final : public FirmwareSink {
  public:
    PersistenceHookSink() = default;
    ~PersistenceHookSink() override;
    PersistenceHookSink(const PersistenceHookSink&) = delete;
    PersistenceHookSink& operator=(const PersistenceHookSink&) = delete;

    [[nodiscard]] Status begin(std::uint64_t expected_size) override;
    [[nodiscard]] Status write(std::uint64_t offset, const std::uint8_t* data,
                               std::size_t len) override;
    [[nodiscard]] Status read(std::uint64_t offset, std::uint8_t* out, std::size_t len) override;
    [[nodiscard]] Status flush() override;
    [[nodiscard]] Status commit() override;
    void abort() noexcept override;

  private:
    int stop(int succeeded) noexcept;

    bool started_ = false;
    std::uint64_t written_ = 0;
};

}  // namespace ota::shim
