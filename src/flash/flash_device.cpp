// FlashDevice's argument checks: every implementation gets the same range and alignment rules
// before its do_* hook runs (ota::core; no I/O here).
#include "ota/flash_device.hpp"

#include <string>

namespace ota {
namespace {

bool range_ok(std::uint64_t offset, std::uint64_t len, std::uint64_t size) noexcept {
    return offset <= size && len <= size - offset;
}

}  // namespace

Error validate_geometry(const FlashGeometry& g) {
    if (g.size == 0 || g.sector_size == 0 || g.write_align == 0) {
        return {Status::invalid_argument,
                "flash geometry: size, sector size and write unit must be "
                "non-zero"};
    }
    if (g.size % g.sector_size != 0) {
        return {Status::invalid_argument, "flash geometry: size " + std::to_string(g.size) +
                                              " is not a multiple of the sector size " +
                                              std::to_string(g.sector_size)};
    }
    if (g.sector_size % g.write_align != 0) {
        return {Status::invalid_argument,
                "flash geometry: sector size " + std::to_string(g.sector_size) +
                    " is not a multiple of the write unit " + std::to_string(g.write_align)};
    }
    return {};
}

Status FlashDevice::read(std::uint64_t offset, std::uint8_t* out, std::size_t len) {
    if (out == nullptr && len > 0) return Status::invalid_argument;
    if (!range_ok(offset, len, size())) return Status::invalid_argument;
    if (len == 0) return Status::ok;
    return do_read(offset, out, len);
}

Status FlashDevice::erase(std::uint64_t offset, std::uint64_t len) {
    const std::uint32_t sector = sector_size();
    if (offset % sector != 0 || len % sector != 0) return Status::invalid_argument;
    if (!range_ok(offset, len, size())) return Status::invalid_argument;
    if (len == 0) return Status::ok;
    return do_erase(offset, len);
}

Status FlashDevice::program(std::uint64_t offset, const std::uint8_t* data, std::size_t len) {
    const std::uint32_t align = write_align();
    if (data == nullptr && len > 0) return Status::invalid_argument;
    if (offset % align != 0 || len % align != 0) return Status::invalid_argument;
    if (!range_ok(offset, len, size())) return Status::invalid_argument;
    if (len == 0) return Status::ok;
    return do_program(offset, data, len);
}

}  // namespace ota
