// Access to the loopback lab (scripts/lab.sh) from integration tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ota/options.hpp"

namespace ota::test {

/// The lab's addresses and credentials, read from the lab.env the fixture wrote.
struct Lab {
    std::filesystem::path dir;
    std::uint16_t mqtt_tls_port = 0;
    std::uint16_t mqtt_tcp_port = 0;
    std::uint16_t https_port = 0;
    std::uint16_t http_port = 0;
    std::string ca_file;        ///< the CA that signed the broker's and web server's certificate
    std::string other_ca_file;  ///< an unrelated CA (verification must fail with it)
    std::filesystem::path www_dir;
    std::string cloud_user;
    std::string cloud_password;

    /// Loads the lab started by the ctest fixture; fails the current test (and returns an empty
    /// Lab) when it is missing.
    static const Lab& get();

    /// Reads a lab.env written by `scripts/lab.sh start`; a Lab with zero ports when missing.
    static Lab from_env_file(const std::filesystem::path& path);

    /// Registers a device with the broker (password = its Aliyun signature, ACL = its topics).
    void add_device(const std::string& pk, const std::string& dn, const std::string& ds) const;

    /// Writes `data` to www/<name> and returns its https URL.
    std::string put_file(const std::string& name, const std::vector<std::uint8_t>& data) const;

    /// https://127.0.0.1:<port>/<path>  (and http_url for the plain listener)
    std::string https_url(const std::string& path) const;
    std::string http_url(const std::string& path) const;

    /// Options of a cloud-side MQTT connection (the lab's cloud user, TLS with the lab's CA, a
    /// clean session) under `client_id`, for tests that watch or drive a device's topics.
    MqttOptions cloud_mqtt(const std::string& client_id) const;

    /// Broker control for reconnect tests.
    void stop_broker() const;
    void start_broker() const;

    /// Absolute path of an example/tool binary in <build>/bin.
    static std::string bin(const std::string& name);
};

/// `n` pseudo-random bytes from `seed` (deterministic).
std::vector<std::uint8_t> random_bytes(std::size_t n, std::uint32_t seed);

/// A process run to completion with a deadline; output captured.
struct ProcessResult {
    int exit_code = -1;      ///< exit status, or 128+signal, or -1 if it could not start
    bool timed_out = false;  ///< killed after the deadline
    std::string output;      ///< stdout and stderr interleaved
};

/// Runs argv[0] with arguments, killing it after `timeout_s` seconds.
ProcessResult run_process(const std::vector<std::string>& argv, int timeout_s);

/// A process running in the background with its output going to a file; killed (SIGKILL) by the
/// destructor if still running.
class BackgroundProcess {
  public:
    BackgroundProcess(const std::vector<std::string>& argv, std::filesystem::path log_file);
    ~BackgroundProcess();
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;

    /// Waits for the exit up to `timeout_s`; returns the exit code (128+signal when killed by a
    /// signal), or -1 on timeout (the process keeps running).
    int wait(double timeout_s);
    /// True once `text` appears in the output, polling up to `timeout_s`.
    bool wait_for_output(const std::string& text, double timeout_s) const;
    /// Everything the process printed so far.
    std::string output() const;
    /// Sends `sig` (default SIGKILL) if the process is still running.
    void kill(int sig = 9);
    [[nodiscard]] int pid() const { return pid_; }

  private:
    int pid_ = -1;
    int exit_code_ = -1;
    bool exited_ = false;
    std::filesystem::path log_file_;
};

/// A fresh, empty temporary directory removed by the destructor.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

/// A lab of its own in a temporary directory (for tests that stop the broker: stopping the shared
/// one would disturb other tests), started with scripts/lab.sh and stopped and removed when the
/// guard goes. Lab's helpers (add_device, put_file, stop_broker, ...) act on it through lab().
class PrivateLab {
  public:
    /// Starts the lab in /tmp/ota-<tag>-lab-XXXXXX; adds a test failure when that fails.
    explicit PrivateLab(const std::string& tag);
    ~PrivateLab();
    PrivateLab(const PrivateLab&) = delete;
    PrivateLab& operator=(const PrivateLab&) = delete;

    /// True when the lab started and its lab.env was read.
    [[nodiscard]] bool ok() const { return ok_; }
    /// The private lab's addresses and credentials.
    [[nodiscard]] const Lab& lab() const { return lab_; }
    /// Broker control (lab().stop_broker() / start_broker()).
    void stop_broker() const { lab_.stop_broker(); }
    void start_broker() const { lab_.start_broker(); }

  private:
    std::string dir_;
    Lab lab_;
    bool ok_ = false;
};

/// A device's Aliyun triple.
struct Device {
    std::string pk;
    std::string dn;
    std::string ds;
};

/// A device registered with `lab`'s broker under a name unique to this test process, `tag` in
/// its device name.
Device make_device(const std::string& tag, const Lab& lab = Lab::get());

/// How ota_mqtt reaches the broker: the lab's TLS listener (with --ca-file) or, explicitly, its
/// plain TCP listener (--no-tls).
enum class Transport { tls, tcp };

/// The ota_mqtt example's command line for `d` against `lab`, version 1.0.0, HTTPS trusted
/// through the lab's CA, storing to `output`, followed by `extra`.
std::vector<std::string> ota_mqtt_cmd(const Lab& lab, const Device& d,
                                      const std::filesystem::path& output,
                                      std::vector<std::string> extra = {},
                                      Transport transport = Transport::tls);

/// ota_cloud's broker options for `lab` (TLS listener, the cloud's credentials).
std::vector<std::string> cloud_broker_args(const Lab& lab);

/// `ota_cloud push` announcing `file` served at `url` as `version` to `d`, followed by `extra`.
std::vector<std::string> cloud_push_cmd(const Lab& lab, const Device& d,
                                        const std::filesystem::path& file, const std::string& url,
                                        std::vector<std::string> extra = {},
                                        const std::string& version = "1.1.0");

/// The highest "progress N%" ota_mqtt printed in `output` (-1 if none).
int max_progress(const std::string& output);

/// Waits until `device` printed at least `percent`; false after `timeout`.
bool wait_for_progress(const BackgroundProcess& device, int percent,
                       std::chrono::milliseconds timeout);

/// One nginx access log line (`addr "GET <path> HTTP/1.1" <status> <bytes> range="<range>"`).
struct AccessLine {
    int status = 0;
    std::uint64_t bytes = 0;
    std::string range;
};

/// The shared lab's nginx access log lines for requests whose path is exactly `path`.
std::vector<AccessLine> access_lines(const std::string& path);

/// Writes `data` to `path` (replacing it).
void write_file(const std::filesystem::path& path, const std::vector<std::uint8_t>& data);

/// Reads a whole file (empty when missing).
std::vector<std::uint8_t> read_file(const std::filesystem::path& path);

}  // namespace ota::test
