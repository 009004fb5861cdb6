// Stand-in for ota_console_engine while that part is not built: every rollout operation answers
// 501, so the HTTP tests of routes that need only the store can run. Not compiled once the
// engine target exists (see ../CMakeLists.txt).
#include <chrono>

#include "engine/engine.hpp"

namespace console {

namespace {
[[noreturn]] void missing() {
    throw ApiError(501, "unimplemented", "the rollout engine is not built");
}
class SystemClock : public WallClock {
  public:
    Millis now() const override {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
};
}  // namespace

const WallClock& system_wall_clock() {
    static const SystemClock clock;
    return clock;
}

Engine::Engine(Store& store, const WallClock& clock, Publisher& publisher, UrlFor url_for,
               EngineOptions options)
    : store_(store),
      clock_(clock),
      publisher_(publisher),
      url_for_(std::move(url_for)),
      options_(options) {}
Rollout Engine::create_rollout(Rollout) {
    missing();
}
Rollout Engine::pause(std::int64_t) {
    missing();
}
Rollout Engine::resume(std::int64_t) {
    missing();
}
Rollout Engine::cancel(std::int64_t) {
    missing();
}
Rollout Engine::retry_failed(std::int64_t) {
    missing();
}
RolloutView Engine::view(std::int64_t) {
    missing();
}
std::int64_t Engine::count_matching(const Selection&, const std::string&) {
    missing();
}
bool Engine::on_inform(const DeviceKey&, const std::string&, const std::string&) {
    return false;
}
bool Engine::on_progress(const DeviceKey&, const std::string&, int, const std::string&) {
    return false;
}
std::string Engine::on_firmware_get(const DeviceKey&, const std::string&, const std::string&) {
    return {};
}
void Engine::batch(const std::function<void()>& fn) {
    store_.transaction(fn);
}
void Engine::tick() {}
std::string push_payload(const Firmware&, const std::string&, std::int64_t) {
    return {};
}

}  // namespace console
