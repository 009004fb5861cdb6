// The NOR flash seam: FlashDevice, what the A/B slot logic needs from a flash chip (ota::core).
// SimulatedFlash, the file- or memory-backed simulator, is in ota/hal_posix/simulated_flash.hpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ota/status.hpp"

namespace ota {

/// Shape of a NOR flash device. `size` is a multiple of `sector_size`, and `sector_size` a multiple
/// of `write_align`; all three are non-zero.
struct FlashGeometry {
    std::uint64_t size = 0;            ///< total bytes
    std::uint32_t sector_size = 4096;  ///< erase unit in bytes
    std::uint32_t write_align = 8;     ///< program unit: offsets and lengths are multiples of it
};

/// Checks the invariants documented on FlashGeometry; invalid_argument names the broken one.
[[nodiscard]] Error validate_geometry(const FlashGeometry& geometry);

/// A NOR flash device, as the A/B slot logic uses it.
///
/// Semantics (the contract every implementation keeps, whatever the chip does natively):
///  - erase() sets whole sectors to 0xFF; `offset` and `len` are multiples of sector_size().
///  - program() can only clear bits (1 -> 0); `offset` and `len` are multiples of write_align().
///    Whether programming over non-erased bytes fails or ANDs is the device's choice (the
///    simulator fails by default); callers never rely on either: they erase first.
///  - read() reads any range.
///  - Ranges outside the device or misaligned ones give invalid_argument without touching the
///    chip (checked here, before the device's do_* hook runs); device failures give
///    storage_failed.
/// Not thread-safe: one user at a time.
class FlashDevice {
  public:
    virtual ~FlashDevice() = default;

    /// The device's geometry (constant for its lifetime).
    [[nodiscard]] virtual FlashGeometry geometry() const noexcept = 0;
    /// Total bytes.
    [[nodiscard]] std::uint64_t size() const noexcept { return geometry().size; }
    /// Erase unit in bytes.
    [[nodiscard]] std::uint32_t sector_size() const noexcept { return geometry().sector_size; }
    /// Program unit in bytes.
    [[nodiscard]] std::uint32_t write_align() const noexcept { return geometry().write_align; }

    /// Reads `len` bytes at `offset` into `out` (all or error).
    [[nodiscard]] Status read(std::uint64_t offset, std::uint8_t* out, std::size_t len);
    /// Erases the sectors covering [offset, offset + len) to 0xFF; both sector-aligned.
    [[nodiscard]] Status erase(std::uint64_t offset, std::uint64_t len);
    /// Programs `len` bytes at `offset` (both multiples of write_align()), clearing bits only.
    [[nodiscard]] Status program(std::uint64_t offset, const std::uint8_t* data, std::size_t len);

  protected:
    /// The device's read, called with a checked, in-range request.
    [[nodiscard]] virtual Status do_read(std::uint64_t offset, std::uint8_t* out,
                                         std::size_t len) = 0;
    /// The device's erase, called with a checked, sector-aligned, in-range request.
    [[nodiscard]] virtual Status do_erase(std::uint64_t offset, std::uint64_t len) = 0;
    /// The device's program, called with a checked, aligned, in-range request.
    [[nodiscard]] virtual Status do_program(std::uint64_t offset, const std::uint8_t* data,
                                            std::size_t len) = 0;
};

}  // namespace ota
