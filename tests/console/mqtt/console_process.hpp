// Real ota_console processes and their REST API for the integration tests.
//
// Why a helper of its own: every integration test starts consoles the same way (the lab's
// broker with its cloud user and CA, HTTPS with the lab's server certificate so that ota_mqtt
// devices verify the console with the lab CA, a random port announced through --ready-file) and
// talks to the API with the token the console generated. Every wait is bounded.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lab.hpp"

namespace console::test {

/// An HTTP answer: status (0 = no answer) and the body parsed as JSON when it is JSON.
struct ApiReply {
    int status = 0;
    std::string body;
    nlohmann::json json;
};

/// One ota_console process on the lab, killed (SIGKILL) by the destructor if still running.
class ConsoleProcess {
  public:
    /// Starts `ota_console --data data_dir ... extra` (output to <parent of data_dir>/<name>.log)
    /// and, when `wait`, waits up to 30 s for its ready file (a test failure if it does not come).
    /// `ok()` tells whether it became ready.
    ConsoleProcess(const ota::test::Lab& lab, const std::filesystem::path& data_dir,
                   const std::string& name, std::vector<std::string> extra = {}, bool wait = true);
    ~ConsoleProcess();
    ConsoleProcess(const ConsoleProcess&) = delete;
    ConsoleProcess& operator=(const ConsoleProcess&) = delete;

    [[nodiscard]] bool ok() const { return ready_; }
    /// Waits up to `timeout` for the ready file; true once the console is ready.
    bool wait_ready(std::chrono::milliseconds timeout);
    [[nodiscard]] int port() const { return port_; }
    [[nodiscard]] ota::test::BackgroundProcess& process() { return *proc_; }
    [[nodiscard]] std::string output() const { return proc_->output(); }

    /// A request to the API (`path` below /api/v1) with the bearer token.
    ApiReply call(const std::string& method, const std::string& path, const std::string& body = {},
                  const std::string& content_type = "application/json") const;
    ApiReply get(const std::string& path) const { return call("GET", path); }
    ApiReply post(const std::string& path, const nlohmann::json& body) const {
        return call("POST", path, body.dump());
    }
    /// GET /metrics: the value of `name` (0 when missing).
    [[nodiscard]] double metric(const std::string& name) const;

  private:
    const ota::test::Lab& lab_;
    std::string name_;
    std::filesystem::path ready_file_;
    std::unique_ptr<ota::test::BackgroundProcess> proc_;
    bool ready_ = false;
    int port_ = 0;
    std::string token_;
};

/// The command line of a console on `lab` (without --ready-file).
std::vector<std::string> console_cmd(const ota::test::Lab& lab,
                                     const std::filesystem::path& data_dir,
                                     std::vector<std::string> extra = {});

/// Polls `cond` every 100 ms until it is true or `timeout` passed.
bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout);

/// `n` devices of one product (unique to this test process), registered with the lab's broker
/// (ota::test::make_device gives each device a product of its own).
std::vector<ota::test::Device> make_product_devices(const std::string& tag, int n,
                                                    const ota::test::Lab& lab);

/// Registers devices with the console: POST /devices.
void register_devices(const ConsoleProcess& console, const std::vector<ota::test::Device>& devices);

/// The device's reported version of the default module ("" when none / unknown device).
std::string reported_version(const ConsoleProcess& console, const ota::test::Device& d);

/// Uploads `image` as `version` of the device product; returns to_json(Firmware).
nlohmann::json upload_firmware(const ConsoleProcess& console, const std::string& pk,
                               const std::string& version, const std::vector<std::uint8_t>& image);

/// GET /rollouts/{id}.
nlohmann::json rollout_view(const ConsoleProcess& console, std::int64_t id);

/// The number of tasks of a rollout view in `state`.
std::int64_t count_in(const nlohmann::json& view, const std::string& state);

}  // namespace console::test
