// ota_mqtt: a device that waits for an upgrade job, downloads and verifies the image and stores it.
//
//   ota_mqtt --product-key PK --device-name DN (--device-secret DS | --device-secret-file F)
//            --version V [--host H] [--port P]
//            [--region R] [--ca-file PEM | --no-tls] [--http-ca-file PEM] [--allow-http]
//            [--module M] [--output PATH] [--request] [--wait SECONDS] [--max-attempts N]
//            [--final-wait SECONDS] [--low-memory] [--fetch-buffer BYTES]
//            [--download-buffer BYTES] [--receive-buffer BYTES] [--serve]
//
// --device-secret-file F reads the secret from a file (one line; a trailing newline is ignored),
// so that scripts do not put it on the command line, where every local user can read it.
//
// --serve (the console's devices): after a valid image the device "installs" it (reports the
// job's version on the inform topic as its new running version, as after rebooting into it)
// and waits for the next job; a failed job is reported as usual and the device waits on with
// its old version. It runs until SIGTERM/SIGINT, which then end it with exit status 0.
//
// Memory: the buffers of a download come from ota::BufferProfile::standard(), or low_memory()
// with --low-memory; the three --*-buffer options override single sizes (the benchmark uses them
// to reproduce older settings). README "Memory" has the measured figures.
//
// Restarted with the same --output after a crash or a stop, it resumes the same job where the
// durable part of <output>.part ends (the resume record is <output>.resume). SIGTERM and SIGINT
// are a stop, not a failure: nothing is reported to the cloud, the partial image and its record
// stay, and the process ends within about a second with exit status 7.
//
// Exit status: 0 image valid and stored; 2 usage or configuration error (an unusable --output
// included); 3 digest mismatch; 4 download failed; 5 storage write failed; 6 no job within
// --wait; 7 stopped by SIGTERM/SIGINT; 8 the job ended but its final report was not delivered
// within --final-wait; 1 anything else. With --serve: 0 after a signal, 2 usage, 1 other.
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ota/auth.hpp"
#include "ota/client.hpp"
#include "ota/curl/curl_byte_source.hpp"
#include "ota/hal_posix/file_sink.hpp"
#include "ota/log.hpp"
#include "ota/options.hpp"
#include "ota/paho/paho_channel.hpp"

namespace {

enum ExitCode : int {
    kOk = 0,
    kOther = 1,
    kUsage = 2,
    kDigestMismatch = 3,
    kDownloadFailed = 4,
    kStorageFailed = 5,
    kNoJob = 6,
    kStopped = 7,
    kReportNotDelivered = 8,
};

const char* const kUsageText =
    "usage: ota_mqtt --product-key PK --device-name DN\n"
    "                (--device-secret DS | --device-secret-file FILE) --version V\n"
    "                [--host H] [--port P] [--region R] [--ca-file PEM | --no-tls]\n"
    "                [--http-ca-file PEM] [--allow-http] [--module M] [--output PATH]\n"
    "                [--request] [--wait SECONDS] [--max-attempts N] [--final-wait SECONDS]\n"
    "                [--low-memory] [--fetch-buffer BYTES] [--download-buffer BYTES]\n"
    "                [--receive-buffer BYTES] [--serve]\n"
    "--device-secret-file reads the secret from FILE (a trailing newline is ignored), keeping\n"
    "it off the command line (visible to every local user).\n"
    "Waits for an upgrade job, downloads it over HTTPS, verifies its digest and stores it at\n"
    "--output (default ota.bin) only when it is valid. Dropped downloads are resumed (up to\n"
    "--max-attempts attempts in a row without progress, default 10); after a crash or a stop,\n"
    "run it again with the same --output to continue the same job. SIGTERM/SIGINT stop it\n"
    "without reporting a failure and keep the partial image. The final report waits up to\n"
    "--final-wait seconds (default 10) for the broker. --low-memory uses the library's\n"
    "low-memory buffer sizes (ota::BufferProfile::low_memory()); the --*-buffer options set\n"
    "single sizes (fetch_yield buffer, download ring, libcurl receive buffer).\n"
    "--serve keeps running: after a valid image it reports the job's version as the new\n"
    "running version (as after a reboot into it) and waits for the next job; a failed job\n"
    "leaves the old version. It ends with exit status 0 on SIGTERM/SIGINT (not with --wait).\n"
    "Exit: 0 stored, 2 usage/configuration (unusable --output too), 3 digest mismatch,\n"
    "      4 download failed, 5 storage failed, 6 no job within --wait, 7 stopped by a\n"
    "      signal, 8 final report not delivered within --final-wait, 1 other.\n";

struct Args {
    ota::DeviceIdentity device;
    std::string version;
    std::string host;
    std::optional<unsigned long> port;
    std::string region{ota::kDefaultRegion};
    std::string ca_file;
    bool no_tls = false;
    std::string http_ca_file;
    bool allow_http = false;
    std::string module;
    std::string output = "ota.bin";
    bool request = false;
    std::optional<double> wait_s;
    int max_attempts = ota::RetryPolicy{}.max_attempts;
    double final_wait_s = 10;
    ota::BufferProfile buffers = ota::BufferProfile::standard();
    bool low_memory = false;
    bool serve = false;
    std::string device_secret_file;
};

// Longest secret file accepted: a device secret is some dozens of characters; a large file is
// the wrong file.
constexpr std::uintmax_t kMaxSecretFileBytes = 4096;

// Largest --fetch-buffer: fetch_yield() takes any size, this only catches typing mistakes.
constexpr double kMaxFetchBufferBytes = 64.0 * 1024 * 1024;

std::atomic<bool> g_stop{false};

void on_signal(int) {
    g_stop.store(true);
}

bool parse_number(const char* text, double& out) {
    char* end = nullptr;
    out = std::strtod(text, &end);
    return end != text && *end == '\0';
}

// Reads a device secret from `path` into `out` (without its trailing line end). Returns an error
// message (naming the file, never its content), or empty on success.
std::string read_secret_file(const std::string& path, std::string& out) {
    const std::string what = "--device-secret-file " + path + ": ";
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return what + "is a directory";
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    if (ec) return what + ec.message();
    if (size > kMaxSecretFileBytes) {
        return what + "is " + std::to_string(size) + " bytes, more than a device secret (at most " +
               std::to_string(kMaxSecretFileBytes) + ")";
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return what + std::strerror(errno);
    std::string text(static_cast<std::size_t>(size) + 1, '\0');
    in.read(&text[0], static_cast<std::streamsize>(text.size()));
    if (in.bad()) return what + "cannot be read";
    text.resize(static_cast<std::size_t>(in.gcount()));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.empty()) return what + "is empty";
    if (text.find_first_of("\r\n") != std::string::npos) return what + "has more than one line";
    out = std::move(text);
    return {};
}

// Returns an error message, or empty on success.
std::string parse_args(int argc, char** argv, Args& a) {
    // Single sizes apply on top of the profile whatever the order of the options.
    std::optional<std::size_t> fetch_buffer;
    std::optional<std::size_t> download_ring;
    std::optional<std::size_t> receive_buffer;
    for (int i = 1; i < argc; ++i) {
        const std::string opt = argv[i];
        auto value = [&](std::string& out) -> bool {
            if (i + 1 >= argc) return false;
            out = argv[++i];
            return true;
        };
        std::string v;
        if (opt == "--product-key") {
            if (!value(a.device.product_key)) return opt + " needs a value";
        } else if (opt == "--device-name") {
            if (!value(a.device.device_name)) return opt + " needs a value";
        } else if (opt == "--device-secret") {
            if (!value(a.device.device_secret) || a.device.device_secret.empty()) {
                return opt + " needs a value";
            }
        } else if (opt == "--device-secret-file") {
            if (!value(a.device_secret_file) || a.device_secret_file.empty()) {
                return opt + " needs a file name";
            }
        } else if (opt == "--version") {
            if (!value(a.version)) return opt + " needs a value";
        } else if (opt == "--host") {
            if (!value(a.host)) return opt + " needs a value";
        } else if (opt == "--port") {
            double p = 0;
            if (!value(v) || !parse_number(v.c_str(), p) || p < 1 || p > 65535 ||
                p != static_cast<double>(static_cast<unsigned long>(p))) {
                return "--port needs a number from 1 to 65535";
            }
            a.port = static_cast<unsigned long>(p);
        } else if (opt == "--region") {
            if (!value(a.region)) return opt + " needs a value";
        } else if (opt == "--ca-file") {
            if (!value(a.ca_file)) return opt + " needs a value";
        } else if (opt == "--no-tls") {
            a.no_tls = true;
        } else if (opt == "--http-ca-file") {
            if (!value(a.http_ca_file)) return opt + " needs a value";
        } else if (opt == "--allow-http") {
            a.allow_http = true;
        } else if (opt == "--module") {
            if (!value(a.module)) return opt + " needs a value";
        } else if (opt == "--output") {
            if (!value(a.output) || a.output.empty()) return "--output needs a path";
        } else if (opt == "--request") {
            a.request = true;
        } else if (opt == "--wait") {
            double w = 0;
            if (!value(v) || !parse_number(v.c_str(), w) || w < 0) {
                return "--wait needs a number of seconds >= 0";
            }
            a.wait_s = w;
        } else if (opt == "--max-attempts") {
            double n = 0;
            if (!value(v) || !parse_number(v.c_str(), n) || n < 1 || n > 10000 ||
                n != static_cast<double>(static_cast<int>(n))) {
                return "--max-attempts needs a whole number from 1 to 10000";
            }
            a.max_attempts = static_cast<int>(n);
        } else if (opt == "--final-wait") {
            double w = 0;
            if (!value(v) || !parse_number(v.c_str(), w) || w < 0 || w > 86400) {
                return "--final-wait needs a number of seconds from 0 to 86400";
            }
            a.final_wait_s = w;
        } else if (opt == "--low-memory") {
            a.low_memory = true;
        } else if (opt == "--serve") {
            a.serve = true;
        } else if (opt == "--fetch-buffer" || opt == "--download-buffer" ||
                   opt == "--receive-buffer") {
            // The ring and receive buffer are checked against the library's ranges below.
            double n = 0;
            if (!value(v) || !parse_number(v.c_str(), n) || n < 1 || n > kMaxFetchBufferBytes ||
                n != static_cast<double>(static_cast<std::size_t>(n))) {
                return opt + " needs a whole number of bytes from 1 to 67108864";
            }
            auto& size = opt == "--fetch-buffer"      ? fetch_buffer
                         : opt == "--download-buffer" ? download_ring
                                                      : receive_buffer;
            size = static_cast<std::size_t>(n);
        } else if (opt == "-h" || opt == "--help") {
            return "help";
        } else {
            return "unknown option " + opt;
        }
    }
    if (!a.device.device_secret.empty() && !a.device_secret_file.empty()) {
        return "--device-secret and --device-secret-file exclude each other";
    }
    if (!a.device_secret_file.empty()) {
        std::string error = read_secret_file(a.device_secret_file, a.device.device_secret);
        if (!error.empty()) return error;
    }
    if (a.device.product_key.empty() || a.device.device_name.empty() ||
        a.device.device_secret.empty() || a.version.empty()) {
        return "--product-key, --device-name, --device-secret (or --device-secret-file) and "
               "--version are required";
    }
    if (a.no_tls && !a.ca_file.empty()) return "--ca-file and --no-tls exclude each other";
    if (a.serve && a.wait_s) return "--serve and --wait exclude each other";
    if (a.low_memory) a.buffers = ota::BufferProfile::low_memory();
    a.buffers.fetch_buffer = fetch_buffer.value_or(a.buffers.fetch_buffer);
    a.buffers.download_ring = download_ring.value_or(a.buffers.download_ring);
    a.buffers.receive_buffer = receive_buffer.value_or(a.buffers.receive_buffer);
    // Now rather than at the first job, so that a bad size is a usage error (exit 2).
    if (const ota::Error e = ota::HttpOptions{}.with_buffers(a.buffers).validate(); !e.ok()) {
        return e.detail;
    }
    return {};
}

// Draws a progress bar on a terminal, or prints a line every 10 percent otherwise.
class ProgressView {
  public:
    explicit ProgressView(bool tty) : tty_(tty), start_(std::chrono::steady_clock::now()) {}

    void update(std::uint64_t done, std::uint64_t total) {
        const int percent = total == 0 ? 100 : static_cast<int>(done * 100 / total);
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        const double mib = static_cast<double>(done) / (1024.0 * 1024.0);
        if (tty_) {
            const auto now = std::chrono::steady_clock::now();
            if (done != total && now - last_draw_ < std::chrono::milliseconds(100)) return;
            last_draw_ = now;
            const int width = 30;
            const int filled = percent * width / 100;
            std::fprintf(stderr, "\r[%.*s%*s] %3d%% %8.1f MiB %7.1f MiB/s", filled,
                         "##############################", width - filled, "", percent, mib,
                         secs > 0 ? mib / secs : 0.0);
            if (done == total) std::fputc('\n', stderr);
            std::fflush(stderr);
        } else if (percent / 10 != last_decile_) {
            last_decile_ = percent / 10;
            std::printf("progress %d%% (%llu/%llu bytes)\n", percent,
                        static_cast<unsigned long long>(done),
                        static_cast<unsigned long long>(total));
            std::fflush(stdout);
        }
    }

  private:
    bool tty_;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_draw_{};
    int last_decile_ = -1;
};

// Checks at start that --output can be written, so a bad path fails now (exit 2) rather than when
// a job arrives or after the whole download. Returns the reason, or empty when it is usable.
std::string check_output(const std::string& output) {
    namespace fs = std::filesystem;
    const fs::path path(output);
    std::error_code ec;
    if (fs::is_directory(path, ec)) return "--output " + output + " is a directory";
    const fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    const fs::file_status st = fs::status(dir, ec);
    if (ec || !fs::exists(st)) {
        return "--output " + output + ": directory " + dir.string() + " does not exist";
    }
    if (!fs::is_directory(st)) {
        return "--output " + output + ": " + dir.string() + " is not a directory";
    }
    // A real file creation, not access(2): it also catches read-only file systems and works
    // for root. A probe of its own, so a resumable <output>.part is never touched.
    const fs::path probe = dir / (".ota_mqtt-probe-" + std::to_string(::getpid()));
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return "--output " + output + ": cannot create files in " + dir.string() + ": " +
               std::strerror(errno);
    }
    ::close(fd);
    ::unlink(probe.c_str());
    return {};
}

// The final error line: the client's detail already says what failed ("download failed: ...",
// "storage failed: ..."), so it is printed once, without the status name in front.
void print_failure(const ota::Error& e) {
    const std::string text = e.detail.empty() ? std::string(ota::to_string(e.status)) : e.detail;
    std::fprintf(stderr, "ota_mqtt: %s\n", text.c_str());
}

int exit_code_for(ota::Status s) {
    switch (s) {
        case ota::Status::digest_mismatch:
            return kDigestMismatch;
        case ota::Status::storage_failed:
        case ota::Status::storage_full:
            return kStorageFailed;
        case ota::Status::fetch_failed:
        case ota::Status::fetch_refused:
        case ota::Status::size_mismatch:
        case ota::Status::timeout:
            return kDownloadFailed;
        default:
            return kOther;
    }
}

// The cloud must hear how the job ended: a final report the client queued while the broker was
// away is delivered before the process exits, waiting at most --final-wait for the broker. One
// that could not be delivered makes the exit status 8 (the job's own outcome is in the log).
int deliver_reports(ota::OtaClient& client, int exit_code, double final_wait_s) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(final_wait_s));
    if (client.queued_reports() > 0) {
        std::printf("waiting for the broker to deliver the final report\n");
        std::fflush(stdout);
    }
    while (client.queued_reports() > 0 && !g_stop.load() &&
           std::chrono::steady_clock::now() < deadline) {
        (void)client.poll(std::chrono::milliseconds(200));
    }
    if (g_stop.load()) return kStopped;
    if (client.queued_reports() > 0) {
        std::fprintf(stderr,
                     "ota_mqtt: the final report could not be delivered within %g s "
                     "(--final-wait); the job's own outcome was exit status %d\n",
                     final_wait_s, exit_code);
        return kReportNotDelivered;
    }
    return exit_code;
}

int stopped() {
    std::printf(
        "stopped by a signal; the partial image is kept: run again with the same "
        "--output to resume\n");
    std::fflush(stdout);
    return kStopped;
}

// One job: waits for it (up to --wait), downloads, verifies and stores it. Returns the exit code
// of a run without --serve.
int run_job(const Args& a, ota::OtaClient& client) {
    std::printf("waiting for an upgrade job%s\n", a.wait_s ? "" : " (Ctrl-C to stop)");
    std::fflush(stdout);

    const auto deadline =
        a.wait_s ? std::optional(std::chrono::steady_clock::now() +
                                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                     std::chrono::duration<double>(*a.wait_s)))
                 : std::nullopt;
    while (!client.is_fetching()) {
        if (g_stop.load()) return a.serve ? kStopped : stopped();  // idle: nothing partial
        if (deadline && std::chrono::steady_clock::now() >= *deadline) {
            std::fprintf(stderr, "ota_mqtt: no upgrade job within %g s\n", *a.wait_s);
            return kNoJob;
        }
        (void)client.poll(std::chrono::milliseconds(200));
    }

    std::printf("job: version %s, %llu bytes, %s %s\n", std::string(client.version()).c_str(),
                static_cast<unsigned long long>(client.file_size()),
                ota::to_string(client.job()->digest.algorithm),
                std::string(client.expected_digest()).c_str());
    std::fflush(stdout);

    ProgressView view(isatty(STDERR_FILENO) != 0);
    std::vector<std::uint8_t> buf(a.buffers.fetch_buffer);
    while (!client.is_fetch_finished()) {
        // A stop is not a failure: nothing is reported, and the client's destruction (on the way
        // out of run()) suspends the sink, keeping the partial image and its resume record.
        if (g_stop.load()) return stopped();
        // Short waits, so that a signal is noticed well within a second.
        const ota::FetchResult r =
            client.fetch_yield(buf.data(), buf.size(), std::chrono::milliseconds(200));
        if (r.status != ota::Status::ok) {
            std::fputc('\n', stderr);
            print_failure(client.last_error());
            return deliver_reports(client, exit_code_for(client.last_error().status),
                                   a.final_wait_s);
        }
        view.update(client.fetched_size(), client.file_size());
    }

    bool valid = false;
    const ota::Error e = client.check_firmware(valid);
    if (!valid) {
        print_failure(e.ok() ? client.last_error() : e);
        if (e.status == ota::Status::storage_failed || e.status == ota::Status::storage_full) {
            return deliver_reports(client, kStorageFailed, a.final_wait_s);
        }
        return deliver_reports(client, kDigestMismatch, a.final_wait_s);
    }
    std::printf("image %s verified and stored at %s (%llu bytes)\n",
                std::string(client.version()).c_str(), a.output.c_str(),
                static_cast<unsigned long long>(client.file_size()));
    return deliver_reports(client, kOk, a.final_wait_s);
}

// --serve: jobs one after another. A valid image becomes the running version (reported on the
// inform topic, as a device does after rebooting into it); a failed one leaves the old version.
int serve(const Args& a, ota::OtaClient& client) {
    while (true) {
        const int code = run_job(a, client);
        if (g_stop.load() || code == kStopped) {
            std::printf("stopped by a signal\n");
            std::fflush(stdout);
            return kOk;
        }
        if (code == kOk) {
            const std::string installed(client.version());
            client.reset();
            if (const ota::Error e = client.report_version(installed); !e.ok()) {
                std::fprintf(stderr, "ota_mqtt: cannot report the version: %s\n",
                             e.message().c_str());
            }
            std::printf("installed; running version %s\n", installed.c_str());
        } else {
            client.reset();
            std::printf(
                "job failed (exit status %d without --serve); still running the old "
                "version\n",
                code);
        }
        std::fflush(stdout);
    }
}

int run(const Args& a) {
    if (const std::string why = check_output(a.output); !why.empty()) {
        std::fprintf(stderr, "ota_mqtt: %s\n", why.c_str());
        return kUsage;
    }
    ota::ConnectOptions co;
    co.custom_host = a.host;
    co.region = a.region;
    co.secure_mode = a.no_tls ? ota::SecureMode::tcp : ota::SecureMode::tls;
    if (a.port) co.port = static_cast<std::uint16_t>(*a.port);
    ota::ConnectionInfo conn;
    if (const ota::Error e = ota::make_connection_info(a.device, co, conn); !e.ok()) {
        std::fprintf(stderr, "ota_mqtt: %s\n", e.message().c_str());
        return kUsage;
    }

    ota::MqttOptions mo = ota::MqttOptions::from(conn);
    mo.use_tls = !a.no_tls;
    mo.ca_file = a.ca_file;
    ota::PahoChannel channel(std::move(mo));
    std::printf("connecting to %s:%u (%s)\n", conn.host.c_str(), static_cast<unsigned>(conn.port),
                a.no_tls ? "plain TCP" : "TLS");
    if (const ota::Error e = channel.connect(); !e.ok()) {
        std::fprintf(stderr, "ota_mqtt: cannot connect to the broker: %s\n", e.message().c_str());
        return e.status == ota::Status::invalid_argument ? kUsage : kOther;
    }

    ota::HttpOptions ho = ota::HttpOptions{}.with_buffers(a.buffers);
    ho.ca_file = a.http_ca_file;
    ho.allow_http = a.allow_http;
    ota::CurlByteSource source(std::move(ho));
    ota::FileSink sink(a.output);

    ota::ClientOptions opts;
    opts.product_key = a.device.product_key;
    opts.device_name = a.device.device_name;
    opts.module = a.module;
    opts.allow_http = a.allow_http;
    opts.retry.max_attempts = a.max_attempts;
    ota::OtaClient client(channel, source, std::move(opts));
    if (const ota::Error e = client.init(); !e.ok()) {
        std::fprintf(stderr, "ota_mqtt: %s\n", e.message().c_str());
        return e.status == ota::Status::invalid_argument ? kUsage : kOther;
    }
    if (const ota::Error e = client.set_sink(&sink); !e.ok()) {
        std::fprintf(stderr, "ota_mqtt: %s\n", e.message().c_str());
        return kOther;
    }
    if (const ota::Error e = client.report_version(a.version); !e.ok()) {
        std::fprintf(stderr, "ota_mqtt: cannot report the version: %s\n", e.message().c_str());
        return e.status == ota::Status::invalid_argument ? kUsage : kOther;
    }
    std::printf("reported version %s%s%s\n", a.version.c_str(), a.module.empty() ? "" : ", module ",
                a.module.c_str());
    if (a.request) {
        if (const ota::Error e = client.request_image(); !e.ok()) {
            std::fprintf(stderr, "ota_mqtt: firmware/get failed: %s\n", e.message().c_str());
        }
    }
#ifdef __GLIBC__
    // Connecting (TLS set-up, the CA file) left freed heap pages behind; hand them back before
    // the long wait (about 30 KiB here).
    malloc_trim(0);
#endif
    if (!a.serve) return run_job(a, client);
    return serve(a, client);
}

}  // namespace

int main(int argc, char** argv) {
    Args args;
    const std::string err = parse_args(argc, argv, args);
    if (err == "help") {
        std::fputs(kUsageText, stdout);
        return kOk;
    }
    if (!err.empty()) {
        std::fprintf(stderr, "ota_mqtt: %s\n%s", err.c_str(), kUsageText);
        return kUsage;
    }
#ifdef __GLIBC__
    // glibc gives each thread that allocates (paho's, libcurl's) an arena of its own, each with
    // its own partly used pages; with --low-memory all threads share one (about 30 KiB less). The
    // download's hot path does not allocate, so the shared lock costs no throughput.
    if (args.low_memory) mallopt(M_ARENA_MAX, 1);
#endif
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    ota::set_log_level(ota::LogLevel::warning);
    try {
        return run(args);
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "ota_mqtt: unexpected error: %s\n", ex.what());
        return kOther;
    }
}
