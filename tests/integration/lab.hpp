// Access to the loopback lab (scripts/lab.sh) from integration tests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

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

    /// Registers a device with the broker (password = its Aliyun signature, ACL = its topics).
    void add_device(const std::string& pk, const std::string& dn, const std::string& ds) const;

    /// Writes `data` to www/<name> and returns its https URL.
    std::string put_file(const std::string& name, const std::vector<std::uint8_t>& data) const;

    /// https://127.0.0.1:<port>/<path>  (and http_url for the plain listener)
    std::string https_url(const std::string& path) const;
    std::string http_url(const std::string& path) const;

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

/// Writes `data` to `path` (replacing it).
void write_file(const std::filesystem::path& path, const std::vector<std::uint8_t>& data);

/// Reads a whole file (empty when missing).
std::vector<std::uint8_t> read_file(const std::filesystem::path& path);

}  // namespace ota::test
