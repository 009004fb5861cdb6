// device_sim: a device with A/B firmware slots on a (file-backed, simulated) NOR flash.
//
//   device_sim --product-key PK --device-name DN --device-secret DS --flash PATH
//              [--factory-version V] [--factory-size BYTES] [--flash-size BYTES]
//              [--sector-size BYTES] [--write-align BYTES] [--host H] [--port P] [--region R]
//              [--ca-file PEM | --no-tls] [--http-ca-file PEM] [--allow-http] [--request]
//              [--wait SECONDS] [--fail-self-test]
//
// Every "power cycle" runs the bootloader's decision (AbBootControl::boot) on the flash file,
// then the application:
//  - running a confirmed image: connects, reports the running version, waits for a job,
//    downloads it into the inactive slot (SlotSink: verified, then marked pending) and reboots;
//  - running a new image on trial: self-test (the image's SHA-256 on the flash, or a forced
//    failure with --fail-self-test), then connects and reports the NEW version - which is what
//    closes the job in the cloud - and only then confirms it. A failed self-test reboots without
//    confirming, and the bootloader rolls back; the old version is reported again, with a
//    failure step (-1) for the job.
// A blank flash file is provisioned with a factory image (--factory-version, default 1.0.0).
//
// Exit status: 0 update confirmed; 2 usage or configuration error; 3 digest mismatch;
// 4 download failed; 5 storage failed; 6 no job within --wait; 7 rolled back; 8 stopped by
// SIGTERM/SIGINT (nothing reported to the cloud: a stop is not a failure); 1 anything else.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ota/ab_slots.hpp"
#include "ota/auth.hpp"
#include "ota/client.hpp"
#include "ota/curl/curl_byte_source.hpp"
#include "ota/flash.hpp"
#include "ota/log.hpp"
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
    kRolledBack = 7,
    kStopped = 8,
};

const char* const kUsageText =
    "usage: device_sim --product-key PK --device-name DN --device-secret DS --flash PATH\n"
    "                  [--factory-version V] [--factory-size BYTES] [--flash-size BYTES]\n"
    "                  [--sector-size BYTES] [--write-align BYTES] [--host H] [--port P]\n"
    "                  [--region R] [--ca-file PEM | --no-tls] [--http-ca-file PEM]\n"
    "                  [--allow-http] [--request] [--wait SECONDS] [--fail-self-test]\n"
    "A device with A/B slots on a simulated NOR flash kept in the file --flash: reports the\n"
    "running version, downloads a job into the inactive slot, reboots into it on trial, runs a\n"
    "self-test, reports the new version and confirms it (or rolls back).\n"
    "Exit: 0 update confirmed, 2 usage/configuration, 3 digest mismatch, 4 download failed,\n"
    "      5 storage failed, 6 no job within --wait, 7 rolled back, 1 other.\n";

constexpr std::uint64_t kDefaultSector = 4096;

struct Args {
    ota::DeviceIdentity device;
    std::string flash_path;
    std::string factory_version = "1.0.0";
    std::uint64_t factory_size = 64 * 1024;
    std::uint64_t sector_size = kDefaultSector;
    std::uint64_t write_align = 16;
    std::uint64_t flash_size = 0;  // 0: two record sectors + two 4 MiB slots
    std::string host;
    std::optional<std::uint16_t> port;
    std::string region{ota::kDefaultRegion};
    std::string ca_file;
    bool no_tls = false;
    std::string http_ca_file;
    bool allow_http = false;
    bool request = false;
    std::optional<double> wait_s;
    bool fail_self_test = false;
};

std::atomic<bool> g_stop{false};

void on_signal(int) {
    g_stop.store(true);
}

bool parse_u64(const std::string& text, std::uint64_t& out) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return false;
    char* end = nullptr;
    out = std::strtoull(text.c_str(), &end, 10);
    return *end == '\0';
}

bool parse_seconds(const std::string& text, double& out) {
    char* end = nullptr;
    out = std::strtod(text.c_str(), &end);
    return end != text.c_str() && *end == '\0' && out >= 0;
}

// Returns an error message, "help", or empty on success.
std::string parse_args(int argc, char** argv, Args& a) {
    for (int i = 1; i < argc; ++i) {
        const std::string opt = argv[i];
        std::string v;
        auto value = [&](std::string& out) -> bool {
            if (i + 1 >= argc) return false;
            out = argv[++i];
            return true;
        };
        auto number = [&](std::uint64_t& out, std::uint64_t min) -> bool {
            return value(v) && parse_u64(v, out) && out >= min;
        };
        if (opt == "--product-key") {
            if (!value(a.device.product_key)) return opt + " needs a value";
        } else if (opt == "--device-name") {
            if (!value(a.device.device_name)) return opt + " needs a value";
        } else if (opt == "--device-secret") {
            if (!value(a.device.device_secret)) return opt + " needs a value";
        } else if (opt == "--flash") {
            if (!value(a.flash_path) || a.flash_path.empty()) return "--flash needs a path";
        } else if (opt == "--factory-version") {
            if (!value(a.factory_version)) return opt + " needs a value";
        } else if (opt == "--factory-size") {
            if (!number(a.factory_size, 1)) return "--factory-size needs a number of bytes >= 1";
        } else if (opt == "--flash-size") {
            if (!number(a.flash_size, 1)) return "--flash-size needs a number of bytes";
        } else if (opt == "--sector-size") {
            if (!number(a.sector_size, 1)) return "--sector-size needs a number of bytes";
        } else if (opt == "--write-align") {
            if (!number(a.write_align, 1)) return "--write-align needs a number of bytes";
        } else if (opt == "--host") {
            if (!value(a.host)) return opt + " needs a value";
        } else if (opt == "--port") {
            std::uint64_t p = 0;
            if (!number(p, 1) || p > 65535) return "--port needs a number from 1 to 65535";
            a.port = static_cast<std::uint16_t>(p);
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
        } else if (opt == "--request") {
            a.request = true;
        } else if (opt == "--wait") {
            double w = 0;
            if (!value(v) || !parse_seconds(v, w)) return "--wait needs a number of seconds >= 0";
            a.wait_s = w;
        } else if (opt == "--fail-self-test") {
            a.fail_self_test = true;
        } else if (opt == "-h" || opt == "--help") {
            return "help";
        } else {
            return "unknown option " + opt;
        }
    }
    if (a.device.product_key.empty() || a.device.device_name.empty() ||
        a.device.device_secret.empty() || a.flash_path.empty()) {
        return "--product-key, --device-name, --device-secret and --flash are required";
    }
    if (a.no_tls && !a.ca_file.empty()) return "--ca-file and --no-tls exclude each other";
    if (a.sector_size > UINT32_MAX || a.write_align > UINT32_MAX) {
        return "--sector-size and --write-align must fit 32 bits";
    }
    if (a.flash_size == 0)
        a.flash_size = (2 + 2 * (4 * 1024 * 1024 / a.sector_size)) * a.sector_size;
    return {};
}

// The factory image: deterministic bytes derived from the version, so every run of the
// simulator provisions the same image for the same version.
std::vector<std::uint8_t> factory_image(const std::string& version, std::uint64_t size) {
    std::uint32_t x = 2166136261U;
    for (const char c : version) x = (x ^ static_cast<std::uint8_t>(c)) * 16777619U;
    std::vector<std::uint8_t> out(static_cast<std::size_t>(size));
    for (auto& b : out) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b = static_cast<std::uint8_t>(x);
    }
    return out;
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

// One connection to the cloud: the MQTT channel, the HTTPS source and the OTA client. Created
// after every (simulated) boot, like a real device's network stack.
class CloudSession {
  public:
    explicit CloudSession(const Args& a) : args_(a) {}

    // Connects and reports `version`; returns an exit code (kOk on success).
    int start(const std::string& version) {
        ota::ConnectOptions co;
        co.custom_host = args_.host;
        co.region = args_.region;
        co.secure_mode = args_.no_tls ? ota::SecureMode::tcp : ota::SecureMode::tls;
        if (args_.port) co.port = *args_.port;
        ota::ConnectionInfo conn;
        if (const ota::Error e = ota::make_connection_info(args_.device, co, conn); !e.ok()) {
            std::fprintf(stderr, "device_sim: %s\n", e.message().c_str());
            return kUsage;
        }
        ota::MqttOptions mo = ota::MqttOptions::from(conn);
        mo.use_tls = !args_.no_tls;
        mo.ca_file = args_.ca_file;
        channel_ = std::make_unique<ota::PahoChannel>(std::move(mo));
        std::printf("connecting to %s:%u\n", conn.host.c_str(), static_cast<unsigned>(conn.port));
        std::fflush(stdout);
        if (const ota::Error e = channel_->connect(); !e.ok()) {
            std::fprintf(stderr, "device_sim: cannot connect to the broker: %s\n",
                         e.message().c_str());
            return e.status == ota::Status::invalid_argument ? kUsage : kOther;
        }
        ota::HttpOptions ho;
        ho.ca_file = args_.http_ca_file;
        ho.allow_http = args_.allow_http;
        source_ = std::make_unique<ota::CurlByteSource>(std::move(ho));
        ota::ClientOptions opts;
        opts.product_key = args_.device.product_key;
        opts.device_name = args_.device.device_name;
        opts.allow_http = args_.allow_http;
        client_ = std::make_unique<ota::OtaClient>(*channel_, *source_, std::move(opts));
        if (const ota::Error e = client_->init(); !e.ok()) {
            std::fprintf(stderr, "device_sim: %s\n", e.message().c_str());
            return kOther;
        }
        if (const ota::Error e = client_->report_version(version); !e.ok()) {
            std::fprintf(stderr, "device_sim: cannot report the version: %s\n",
                         e.message().c_str());
            return kOther;
        }
        std::printf("reported version %s\n", version.c_str());
        std::fflush(stdout);
        return kOk;
    }

    ota::OtaClient& client() { return *client_; }

  private:
    const Args& args_;
    std::unique_ptr<ota::PahoChannel> channel_;
    std::unique_ptr<ota::CurlByteSource> source_;
    std::unique_ptr<ota::OtaClient> client_;
};

// Waits for a job and downloads it through `sink` into the inactive slot; returns an exit code,
// kOk when the image is verified and marked pending.
int download_update(const Args& a, CloudSession& session, ota::AbBootControl& control,
                    ota::SlotSink& sink) {
    ota::OtaClient& client = session.client();
    if (const ota::Error e = client.set_sink(&sink); !e.ok()) {
        std::fprintf(stderr, "device_sim: %s\n", e.message().c_str());
        return kOther;
    }
    client.set_job_handler([&](const ota::UpgradeJob& job) {
        if (const ota::Error e = sink.set_image(job.version, job.digest); !e.ok()) {
            std::fprintf(stderr, "device_sim: %s\n", e.message().c_str());
        }
    });
    if (a.request) {
        if (const ota::Error e = client.request_image(); !e.ok()) {
            std::fprintf(stderr, "device_sim: firmware/get failed: %s\n", e.message().c_str());
        }
    }
    std::printf("waiting for an upgrade job\n");
    std::fflush(stdout);
    const auto deadline =
        a.wait_s ? std::optional(std::chrono::steady_clock::now() +
                                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                     std::chrono::duration<double>(*a.wait_s)))
                 : std::nullopt;
    while (!client.is_fetching()) {
        if (g_stop.load()) return kStopped;
        if (deadline && std::chrono::steady_clock::now() >= *deadline) {
            std::fprintf(stderr, "device_sim: no upgrade job within %g s\n", *a.wait_s);
            return kNoJob;
        }
        (void)client.poll(std::chrono::milliseconds(200));
    }
    std::printf("job: version %s, %llu bytes, into slot %d\n",
                std::string(client.version()).c_str(),
                static_cast<unsigned long long>(client.file_size()), control.record()->candidate());
    std::fflush(stdout);

    std::vector<std::uint8_t> buf(64 * 1024);
    int last_decile = -1;
    while (!client.is_fetch_finished()) {
        if (g_stop.load()) {
            // A stop is not a failure: nothing is reported, and the client's destruction suspends
            // the slot sink instead of aborting it.
            std::printf("stopped by a signal during the download\n");
            return kStopped;
        }
        const ota::FetchResult r =
            client.fetch_yield(buf.data(), buf.size(), std::chrono::milliseconds(1000));
        if (r.status != ota::Status::ok) {
            std::fprintf(stderr, "device_sim: download failed: %s%s%s\n",
                         client.last_error().message().c_str(),
                         sink.last_error().empty() ? "" : ": ", sink.last_error().c_str());
            return exit_code_for(client.last_error().status);
        }
        const std::uint64_t total = client.file_size();
        const int decile = total == 0 ? 10 : static_cast<int>(client.fetched_size() * 10 / total);
        if (decile != last_decile) {
            last_decile = decile;
            std::printf("progress %d%%\n", decile * 10);
            std::fflush(stdout);
        }
    }
    bool valid = false;
    const ota::Error e = client.check_firmware(valid);
    if (!valid) {
        std::fprintf(stderr, "device_sim: %s%s%s\n",
                     e.ok() ? client.last_error().message().c_str() : e.message().c_str(),
                     sink.last_error().empty() ? "" : ": ", sink.last_error().c_str());
        if (e.status == ota::Status::storage_failed || e.status == ota::Status::storage_full) {
            return kStorageFailed;
        }
        return kDigestMismatch;
    }
    const ota::BootRecord* rec = control.record();
    std::printf("image %s written to slot %d, verified and marked %s\n",
                std::string(client.version()).c_str(), rec->candidate(),
                ota::to_string(rec->state));
    return kOk;
}

int run(const Args& a) {
    ota::SimulatedFlashOptions fo;
    fo.geometry = {a.flash_size, static_cast<std::uint32_t>(a.sector_size),
                   static_cast<std::uint32_t>(a.write_align)};
    std::unique_ptr<ota::SimulatedFlash> flash;
    if (const ota::Error e = ota::SimulatedFlash::open_file(a.flash_path, fo, flash); !e.ok()) {
        std::fprintf(stderr, "device_sim: %s\n", e.message().c_str());
        return e.status == ota::Status::invalid_argument ? kUsage : kOther;
    }
    ota::AbLayout layout;
    if (const ota::Error e = ota::make_default_layout(fo.geometry, layout); !e.ok()) {
        std::fprintf(stderr, "device_sim: %s\n", e.message().c_str());
        return kUsage;
    }

    bool rolled_back = false;
    // Three power cycles cover the longest path: download, trial boot with a failed self-test,
    // roll-back boot.
    for (int cycle = 0; cycle < 3 && !g_stop.load(); ++cycle) {
        ota::AbBootControl control(*flash, layout);
        ota::BootResult boot;
        ota::Error e = control.boot(boot);
        if (e.status == ota::Status::invalid_state) {
            const auto image = factory_image(a.factory_version, a.factory_size);
            e = control.provision(image.data(), image.size(), a.factory_version);
            if (!e.ok()) {
                std::fprintf(stderr, "device_sim: cannot provision the factory image: %s\n",
                             e.message().c_str());
                return e.status == ota::Status::invalid_argument ||
                               e.status == ota::Status::storage_full
                           ? kUsage
                           : kStorageFailed;
            }
            std::printf("blank flash: provisioned factory image %s (%llu bytes) in slot 0\n",
                        a.factory_version.c_str(), static_cast<unsigned long long>(a.factory_size));
            e = control.boot(boot);
        }
        if (!e.ok()) {
            std::fprintf(stderr, "device_sim: nothing to boot: %s\n", e.message().c_str());
            return kStorageFailed;
        }
        rolled_back = rolled_back || boot.rolled_back;
        std::printf("booted slot %d: version %s (%s)%s%s\n", boot.slot, boot.image.version.c_str(),
                    ota::to_string(boot.state), boot.rolled_back ? ", rolled back" : "",
                    boot.fell_back ? ", fell back after a failed verification" : "");
        std::fflush(stdout);

        if (boot.state == ota::BootState::trial) {
            // The new image's self-test: its bytes on the flash still match the recorded digest.
            const ota::Error st = control.verify_slot(boot.slot);
            if (!st.ok() || a.fail_self_test) {
                std::printf("self-test of %s failed (%s): rebooting without confirming\n",
                            boot.image.version.c_str(),
                            st.ok() ? "forced by --fail-self-test" : st.message().c_str());
                std::fflush(stdout);
                continue;
            }
            std::printf("self-test of %s passed\n", boot.image.version.c_str());
            // Reporting the new version closes the job in the cloud; only an image that got
            // that far is confirmed. Anything else rolls back on the next boot.
            CloudSession session(a);
            if (const int rc = session.start(boot.image.version); rc != kOk) {
                std::fprintf(stderr, "device_sim: not confirming %s: the cloud is unreachable\n",
                             boot.image.version.c_str());
                return rc;
            }
            if (const ota::Error ce = control.confirm(); !ce.ok()) {
                std::fprintf(stderr, "device_sim: confirm failed: %s\n", ce.message().c_str());
                return kStorageFailed;
            }
            std::printf("confirmed version %s in slot %d\n", boot.image.version.c_str(), boot.slot);
            return kOk;
        }

        ota::SlotSink sink(control);  // declared first: it must outlive the client using it
        CloudSession session(a);
        if (const int rc = session.start(boot.image.version); rc != kOk) return rc;
        if (rolled_back) {
            // Tells the cloud the job failed; without it the job would wait for a version report
            // that never comes.
            const std::string desc =
                "update not confirmed, rolled back to version " + boot.image.version;
            if (const ota::Error pe =
                    session.client().report_progress(ota::kStepGeneralFailed, desc);
                !pe.ok()) {
                std::fprintf(stderr, "device_sim: cannot report the roll-back: %s\n",
                             pe.message().c_str());
            }
            std::printf("rolled back to version %s in slot %d\n", boot.image.version.c_str(),
                        boot.slot);
            return kRolledBack;
        }
        if (const int rc = download_update(a, session, control, sink); rc != kOk) return rc;
        std::printf("rebooting\n");
        std::fflush(stdout);
    }
    return kOther;
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
        std::fprintf(stderr, "device_sim: %s\n%s", err.c_str(), kUsageText);
        return kUsage;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    ota::set_log_level(ota::LogLevel::warning);
    try {
        return run(args);
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "device_sim: unexpected error: %s\n", ex.what());
        return kOther;
    }
}
