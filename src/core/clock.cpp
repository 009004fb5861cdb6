#include "ota/clock.hpp"

namespace ota {
namespace {

class SteadyClock final : public Clock {
  public:
    time_point now() const noexcept override { return std::chrono::steady_clock::now(); }
};

}  // namespace

const Clock& steady_clock() noexcept {
    static const SteadyClock clock;
    return clock;
}

}  // namespace ota
