// SimulatedFlash, the NOR simulator (ota::hal_posix).
//
// SimulatedFlash keeps the whole content in memory and, when file-backed, writes every change
// through to the file with pwrite(2) (no fsync: the simulator models power cuts itself, and a
// killed process still leaves its writes in the page cache). The erase counters live in a
// trailer after the data so wear survives across runs.
#include "ota/hal_posix/simulated_flash.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "common/endian.hpp"
#include "ota/log.hpp"
#include "posix_io.hpp"

namespace ota {
namespace {

// The file trailer: magic, format, sector size, write unit, reserved, size; then the counters.
constexpr char kFileMagic[8] = {'O', 'T', 'A', 'S', 'I', 'M', 'F', 'L'};
constexpr std::uint32_t kFileFormat = 1;
constexpr std::size_t kTrailerHeader = 32;

std::string errno_text(int err) {
    if (err == detail::kEndOfFile) return "unexpected end of file";
    return std::system_category().message(err);
}

using detail::load_le32;
using detail::load_le64;
using detail::pread_all;
using detail::pwrite_all;
using detail::store_le32;
using detail::store_le64;

// xorshift32: a tiny deterministic generator for torn bit patterns.
std::uint32_t next_random(std::uint32_t& state) noexcept {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

}  // namespace

const char* to_string(TearMode mode) noexcept {
    switch (mode) {
        case TearMode::none:
            return "none";
        case TearMode::prefix:
            return "prefix";
        case TearMode::random_bits:
            return "random bits";
        case TearMode::all_but_last:
            return "all but last";
    }
    return "unknown";
}

SimulatedFlash::SimulatedFlash(const SimulatedFlashOptions& options)
    : options_(options),
      data_(static_cast<std::size_t>(options.geometry.size), 0xFF),
      erase_counts_(static_cast<std::size_t>(options.geometry.size / options.geometry.sector_size),
                    0) {}

SimulatedFlash::~SimulatedFlash() {
    if (fd_ >= 0) ::close(fd_);
}

Error SimulatedFlash::create(const SimulatedFlashOptions& options,
                             std::unique_ptr<SimulatedFlash>& out) {
    out.reset();
    if (Error e = validate_geometry(options.geometry); !e.ok()) return e;
    if (options.geometry.size > static_cast<std::uint64_t>(SIZE_MAX / 2)) {
        return {Status::invalid_argument, "flash geometry: size too large to simulate in memory"};
    }
    out.reset(new SimulatedFlash(options));
    return {};
}

Error SimulatedFlash::open_file(const std::filesystem::path& path,
                                const SimulatedFlashOptions& options,
                                std::unique_ptr<SimulatedFlash>& out) {
    std::unique_ptr<SimulatedFlash> dev;
    if (Error e = create(options, dev); !e.ok()) return e;
    const std::string name = path.string();
    int fd = -1;
    for (;;) {
        fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EINTR) break;
    }
    if (fd < 0) return {Status::storage_failed, "cannot open " + name + ": " + errno_text(errno)};
    dev->fd_ = fd;  // closed by the destructor from here on
    dev->path_ = name;
    // Two simulators on one file would silently overwrite each other's changes.
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        return {Status::storage_failed, "cannot lock " + name + ": " + errno_text(errno)};
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        return {Status::storage_failed, "cannot stat " + name + ": " + errno_text(errno)};
    }
    const FlashGeometry& g = options.geometry;
    const std::size_t sectors = dev->erase_counts_.size();
    const std::uint64_t file_len = g.size + kTrailerHeader + 4ULL * sectors;
    std::vector<std::uint8_t> trailer(kTrailerHeader + 4 * sectors, 0);

    if (st.st_size == 0) {
        std::memcpy(trailer.data(), kFileMagic, sizeof kFileMagic);
        store_le32(trailer.data() + 8, kFileFormat);
        store_le32(trailer.data() + 12, g.sector_size);
        store_le32(trailer.data() + 16, g.write_align);
        store_le64(trailer.data() + 24, g.size);
        int err = pwrite_all(fd, dev->data_.data(), dev->data_.size(), 0);
        if (err == 0) err = pwrite_all(fd, trailer.data(), trailer.size(), g.size);
        if (err != 0) {
            return {Status::storage_failed, "cannot initialise " + name + ": " + errno_text(err)};
        }
    } else {
        if (static_cast<std::uint64_t>(st.st_size) != file_len) {
            return {Status::invalid_argument, name + " is not a flash image of this geometry (" +
                                                  std::to_string(st.st_size) + " bytes, expected " +
                                                  std::to_string(file_len) + ")"};
        }
        int err = pread_all(fd, trailer.data(), trailer.size(), g.size);
        if (err != 0) {
            return {Status::storage_failed, "cannot read " + name + ": " + errno_text(err)};
        }
        if (std::memcmp(trailer.data(), kFileMagic, sizeof kFileMagic) != 0 ||
            load_le32(trailer.data() + 8) != kFileFormat) {
            return {Status::invalid_argument, name + " is not a simulated flash file"};
        }
        if (load_le32(trailer.data() + 12) != g.sector_size ||
            load_le32(trailer.data() + 16) != g.write_align ||
            load_le64(trailer.data() + 24) != g.size) {
            return {Status::invalid_argument,
                    name + " has a different geometry (size " +
                        std::to_string(load_le64(trailer.data() + 24)) + ", sector " +
                        std::to_string(load_le32(trailer.data() + 12)) + ", write unit " +
                        std::to_string(load_le32(trailer.data() + 16)) + ")"};
        }
        err = pread_all(fd, dev->data_.data(), dev->data_.size(), 0);
        if (err != 0) {
            return {Status::storage_failed, "cannot read " + name + ": " + errno_text(err)};
        }
        for (std::size_t i = 0; i < sectors; ++i) {
            dev->erase_counts_[i] = load_le32(trailer.data() + kTrailerHeader + 4 * i);
        }
    }
    out = std::move(dev);
    return {};
}

std::uint32_t SimulatedFlash::erase_count(std::uint64_t index) const noexcept {
    return index < erase_counts_.size() ? erase_counts_[static_cast<std::size_t>(index)] : 0;
}

void SimulatedFlash::reset_op_count() noexcept {
    ops_ = 0;
    programs_ = 0;
    erases_ = 0;
}

void SimulatedFlash::schedule_power_cut(const PowerCut& cut) noexcept {
    cut_ = cut;
    cut_scheduled_ = true;
}

void SimulatedFlash::clear_power_cut() noexcept {
    cut_scheduled_ = false;
}

void SimulatedFlash::power_on() noexcept {
    powered_off_ = false;
    cut_scheduled_ = false;
}

bool SimulatedFlash::begin_op(bool is_erase) noexcept {
    const bool hit = cut_scheduled_ && cut_.at_op == ops_;
    ++ops_;
    if (is_erase) {
        ++erases_;
    } else {
        ++programs_;
    }
    if (hit) {
        cut_scheduled_ = false;
        powered_off_ = true;
    }
    return hit;
}

void SimulatedFlash::tear_into(std::uint64_t offset, const std::uint8_t* next, std::size_t len) {
    std::uint8_t* cell = data_.data() + offset;
    switch (cut_.tear) {
        case TearMode::none:
            return;
        case TearMode::prefix:
            std::memcpy(cell, next, len / 2);
            return;
        case TearMode::all_but_last:
            std::memcpy(cell, next, len - 1);
            return;
        case TearMode::random_bits: {
            std::uint32_t state = (cut_.seed * 2654435761U) ^ static_cast<std::uint32_t>(ops_);
            if (state == 0) state = 0x9E3779B9U;
            for (std::size_t i = 0; i < len; ++i) {
                const auto mask = static_cast<std::uint8_t>(next_random(state));
                cell[i] = static_cast<std::uint8_t>((cell[i] & ~mask) | (next[i] & mask));
            }
            return;
        }
    }
}

Status SimulatedFlash::persist(std::uint64_t offset, std::size_t len) {
    if (fd_ < 0) return Status::ok;
    if (const int err = pwrite_all(fd_, data_.data() + offset, len, offset); err != 0) {
        log(LogLevel::warning, "simulated flash: cannot write " + path_ + ": " + errno_text(err));
        return Status::storage_failed;
    }
    return Status::ok;
}

Status SimulatedFlash::persist_counter(std::uint64_t sector) {
    if (fd_ < 0) return Status::ok;
    std::uint8_t b[4];
    store_le32(b, erase_counts_[static_cast<std::size_t>(sector)]);
    if (const int err =
            pwrite_all(fd_, b, sizeof b, options_.geometry.size + kTrailerHeader + 4 * sector);
        err != 0) {
        log(LogLevel::warning, "simulated flash: cannot write " + path_ + ": " + errno_text(err));
        return Status::storage_failed;
    }
    return Status::ok;
}

Status SimulatedFlash::do_read(std::uint64_t offset, std::uint8_t* out, std::size_t len) {
    if (powered_off_) return Status::storage_failed;
    std::memcpy(out, data_.data() + offset, len);
    return Status::ok;
}

Status SimulatedFlash::do_erase(std::uint64_t offset, std::uint64_t len) {
    const std::uint32_t sector = options_.geometry.sector_size;
    std::vector<std::uint8_t> ff;  // the 0xFF pattern a torn erase moves towards
    for (std::uint64_t at = offset; at < offset + len; at += sector) {
        if (powered_off_) return Status::storage_failed;
        const std::uint64_t index = at / sector;
        std::uint32_t& count = erase_counts_[static_cast<std::size_t>(index)];
        const bool worn = options_.erase_endurance != 0 && count >= options_.erase_endurance;
        if (begin_op(true)) {
            if (!worn && cut_.tear != TearMode::none) {
                if (ff.empty()) ff.assign(sector, 0xFF);
                tear_into(at, ff.data(), sector);
                ++count;
                (void)persist(at, sector);
                (void)persist_counter(index);
            }
            return Status::storage_failed;
        }
        if (worn) {
            log(LogLevel::warning, "simulated flash: sector " + std::to_string(index) +
                                       " is worn out after " + std::to_string(count) +
                                       " erase cycles");
            return Status::storage_failed;
        }
        std::memset(data_.data() + at, 0xFF, sector);
        ++count;
        if (const Status s = persist(at, sector); s != Status::ok) return s;
        if (const Status s = persist_counter(index); s != Status::ok) return s;
    }
    return Status::ok;
}

Status SimulatedFlash::do_program(std::uint64_t offset, const std::uint8_t* data, std::size_t len) {
    if (powered_off_) return Status::storage_failed;
    const std::uint8_t* cell = data_.data() + offset;
    bool needs_set = false;
    for (std::size_t i = 0; i < len && !needs_set; ++i) {
        needs_set = (cell[i] & data[i]) != data[i];
    }
    const bool refused = needs_set && options_.program_rule == NorProgramRule::reject;
    if (begin_op(false)) {
        if (!refused && cut_.tear != TearMode::none) {
            // What the chip would end up with: NOR clears bits only, so old AND new either way.
            std::vector<std::uint8_t> next(len);
            for (std::size_t i = 0; i < len; ++i) next[i] = cell[i] & data[i];
            tear_into(offset, next.data(), len);
            (void)persist(offset, len);
        }
        return Status::storage_failed;
    }
    if (refused) {
        log(LogLevel::warning, "simulated flash: program at offset " + std::to_string(offset) +
                                   " needs 0->1 bit changes (the area was not erased)");
        return Status::storage_failed;
    }
    std::uint8_t* out = data_.data() + offset;
    for (std::size_t i = 0; i < len; ++i) out[i] = static_cast<std::uint8_t>(out[i] & data[i]);
    return persist(offset, len);
}

Status SimulatedFlash::restore(const std::vector<std::uint8_t>& contents) {
    if (contents.size() != data_.size()) return Status::invalid_argument;
    data_ = contents;
    return persist(0, data_.size());
}

Status SimulatedFlash::corrupt(std::uint64_t offset, std::uint8_t xor_mask) {
    if (offset >= data_.size()) return Status::invalid_argument;
    data_[static_cast<std::size_t>(offset)] ^= xor_mask;
    return persist(offset, 1);
}

}  // namespace ota
