// SimulatedFlash: a file- or memory-backed NOR flash simulator with wear counting and power-cut
// injection, for tests and device simulators (ota::hal_posix).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ota/flash_device.hpp"
#include "ota/status.hpp"

namespace ota {

/// What SimulatedFlash does when program() would have to turn a 0 bit into a 1.
enum class NorProgramRule {
    reject,  ///< the program fails with storage_failed and nothing changes (catches missing erases)
    and_bits  ///< the stored value becomes old AND new, as most real NOR chips silently do
};

/// How the operation in progress is left when SimulatedFlash's power is cut during it.
enum class TearMode {
    none,          ///< not applied at all (the cut came just before it)
    prefix,        ///< the first half of its bytes applied, the rest untouched
    random_bits,   ///< each bit the operation would change is changed with probability 1/2
    all_but_last,  ///< every byte but the last applied
};

/// "none", "prefix", "random bits", "all but last".
[[nodiscard]] const char* to_string(TearMode mode) noexcept;

/// A scheduled power cut: the mutating operation number `at_op` (0-based, counting erased sectors
/// and program calls since the last reset_op_count()) is left as `tear` says, and from then on
/// every operation, reads included, fails with storage_failed until power_on().
struct PowerCut {
    std::uint64_t at_op = 0;
    TearMode tear = TearMode::none;
    std::uint32_t seed = 1;  ///< for TearMode::random_bits
};

/// Configuration of a SimulatedFlash.
struct SimulatedFlashOptions {
    FlashGeometry geometry;
    /// Erase cycles each sector survives; the next erase of a worn-out sector fails with
    /// storage_failed and leaves it as it was. 0 = unlimited.
    std::uint32_t erase_endurance = 0;
    NorProgramRule program_rule = NorProgramRule::reject;
};

/// A NOR flash simulator, in memory or backed by a file.
///
/// File format (when file-backed): the `size` data bytes, then a trailer with a magic, the
/// geometry and one little-endian 32-bit erase counter per sector. Every operation writes
/// through to the file, so a simulated device keeps its flash (and wear) across process runs.
///
/// Counting and faults: every erased sector and every program() call is one operation; read()
/// is not counted. A PowerCut scheduled with schedule_power_cut() tears operation `at_op` and then
/// makes the device dead until power_on() (which a test calls to "reboot"), exactly like a cut
/// supply on a real board.
class SimulatedFlash final : public FlashDevice {
  public:
    /// An erased (all 0xFF) in-memory device. invalid_argument for a bad geometry.
    [[nodiscard]] static Error create(const SimulatedFlashOptions& options,
                                      std::unique_ptr<SimulatedFlash>& out);

    /// A device backed by `path`: opened when the file exists (its geometry must match
    /// `options.geometry`, else invalid_argument), created erased otherwise. storage_failed for
    /// I/O errors (the detail names the path and the errno text).
    [[nodiscard]] static Error open_file(const std::filesystem::path& path,
                                         const SimulatedFlashOptions& options,
                                         std::unique_ptr<SimulatedFlash>& out);

    ~SimulatedFlash() override;
    SimulatedFlash(const SimulatedFlash&) = delete;
    SimulatedFlash& operator=(const SimulatedFlash&) = delete;

    [[nodiscard]] FlashGeometry geometry() const noexcept override { return options_.geometry; }

    /// Erase cycles sector `index` has been through (0 for an index out of range).
    [[nodiscard]] std::uint32_t erase_count(std::uint64_t index) const noexcept;
    /// Mutating operations (erased sectors + program calls) since the last reset_op_count(),
    /// including refused ones and the one a power cut tore.
    [[nodiscard]] std::uint64_t op_count() const noexcept { return ops_; }
    /// Program calls and erased sectors separately (same counting window as op_count()).
    [[nodiscard]] std::uint64_t program_count() const noexcept { return programs_; }
    [[nodiscard]] std::uint64_t erase_op_count() const noexcept { return erases_; }
    /// Restarts operation counting at 0 (power-cut schedules count from here).
    void reset_op_count() noexcept;

    /// Schedules a power cut (replacing an earlier schedule).
    void schedule_power_cut(const PowerCut& cut) noexcept;
    /// Drops a scheduled cut that has not happened yet.
    void clear_power_cut() noexcept;
    /// True once a scheduled cut has happened and until power_on().
    [[nodiscard]] bool powered_off() const noexcept { return powered_off_; }
    /// Restores power (the flash keeps whatever the cut left) and clears any schedule.
    void power_on() noexcept;

    /// The whole content (for tests: compare or restore a state).
    [[nodiscard]] const std::vector<std::uint8_t>& contents() const noexcept { return data_; }
    /// Replaces the whole content (same size), bypassing NOR rules, counters and faults.
    /// invalid_argument for a different size; storage_failed when the file cannot be written.
    [[nodiscard]] Status restore(const std::vector<std::uint8_t>& contents);
    /// Flips the bits of `xor_mask` in the byte at `offset`, bypassing NOR rules: simulates
    /// corruption (bit rot, a tampered image). invalid_argument out of range.
    [[nodiscard]] Status corrupt(std::uint64_t offset, std::uint8_t xor_mask);

  protected:
    [[nodiscard]] Status do_read(std::uint64_t offset, std::uint8_t* out, std::size_t len) override;
    [[nodiscard]] Status do_erase(std::uint64_t offset, std::uint64_t len) override;
    [[nodiscard]] Status do_program(std::uint64_t offset, const std::uint8_t* data,
                                    std::size_t len) override;

  private:
    explicit SimulatedFlash(const SimulatedFlashOptions& options);
    // Decides whether the operation starting now is the one a scheduled cut hits; counts it.
    [[nodiscard]] bool begin_op(bool is_erase) noexcept;
    // Applies `next` over [offset, offset + len) as far as the cut's tear mode allows.
    void tear_into(std::uint64_t offset, const std::uint8_t* next, std::size_t len);
    [[nodiscard]] Status persist(std::uint64_t offset, std::size_t len);
    [[nodiscard]] Status persist_counter(std::uint64_t sector);

    SimulatedFlashOptions options_;
    std::vector<std::uint8_t> data_;
    std::vector<std::uint32_t> erase_counts_;
    std::uint64_t ops_ = 0;
    std::uint64_t programs_ = 0;
    std::uint64_t erases_ = 0;
    bool cut_scheduled_ = false;
    PowerCut cut_;
    bool powered_off_ = false;
    int fd_ = -1;
    std::string path_;
};

}  // namespace ota
