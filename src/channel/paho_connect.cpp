// Connect options and connect errors of PahoChannel (see paho_connect.hpp).
#include "channel/paho_connect.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "channel/paho_channel_impl.hpp"
#include "channel/paho_error.hpp"
#include "ota/log.hpp"

namespace ota::detail {
namespace {

// The TCP probe that explains a bare connect failure (see probe_tcp).
constexpr std::chrono::milliseconds kProbeTimeout{2000};
constexpr std::uintmax_t kMaxCaFileBytes = 16U * 1024U * 1024U;

mqtt::ssl_options make_ssl_options(const MqttOptions& o) {
    mqtt::ssl_options ssl;
    // An empty trust store makes paho fall back to OpenSSL's default verify paths.
    if (!o.ca_file.empty()) ssl.set_trust_store(o.ca_file);
    const bool verify = !o.insecure_skip_verify;
    ssl.set_enable_server_cert_auth(verify);
    ssl.set_verify(verify);  // host name / IP address check against the certificate
    // No set_error_handler(): paho C++ 1.2 hands the C library a pointer to the copy of these
    // options that lives in async_client::connect()'s by-value parameter, so the handler would
    // run on a destroyed object during the (asynchronous) handshake.
    return ssl;
}

}  // namespace

std::chrono::seconds whole_seconds_at_least_one(std::chrono::milliseconds d) {
    const auto s = std::chrono::ceil<std::chrono::seconds>(d);
    return s < std::chrono::seconds{1} ? std::chrono::seconds{1} : s;
}

std::string to_ms_text(std::chrono::milliseconds d) {
    return std::to_string(d.count()) + " ms";
}

namespace {

// What identifies the version of a CA file that passed check_ca_file.
struct CaFileStamp {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const CaFileStamp& other) const noexcept {
        return dev == other.dev && ino == other.ino && size == other.size &&
               mtime_ns == other.mtime_ns;
    }
};

CaFileStamp stamp_of(const struct stat& st) noexcept {
    CaFileStamp s;
    s.dev = st.st_dev;
    s.ino = st.st_ino;
    s.size = st.st_size;
    s.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    return s;
}

// CA files that passed the check, by path (a fleet connects thousands of channels with one CA
// file; each connect then costs a stat() instead of a read and a scan). Bounded: a process uses
// a handful of CA files; the cache is cleared when it would grow past kMaxCachedCaFiles.
constexpr std::size_t kMaxCachedCaFiles = 64;
std::mutex g_ca_cache_mutex;
std::unordered_map<std::string, CaFileStamp>& ca_cache() {
    static auto* cache = new std::unordered_map<std::string, CaFileStamp>();  // never destroyed
    return *cache;
}

Error ca_open_error(const std::string& path, int err) {
    if (err == EMFILE || err == ENFILE) {
        return {Status::not_connected,
                "cannot open MqttOptions::ca_file '" + path + "': " + out_of_descriptors_text()};
    }
    return {Status::invalid_argument, "cannot read MqttOptions::ca_file '" + path +
                                          "': " + std::generic_category().message(err)};
}

}  // namespace

Error check_ca_file(const MqttOptions& o) {
    if (!o.use_tls || o.ca_file.empty()) return {};
    struct stat st {};
    if (::stat(o.ca_file.c_str(), &st) == 0) {
        std::lock_guard<std::mutex> lock(g_ca_cache_mutex);
        const auto it = ca_cache().find(o.ca_file);
        if (it != ca_cache().end() && it->second == stamp_of(st)) return {};
    }
    const int fd = ::open(o.ca_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ca_open_error(o.ca_file, errno);
    std::string pem;
    char buf[4096];
    int read_errno = 0;
    const bool stamped = ::fstat(fd, &st) == 0;
    while (pem.size() < kMaxCaFileBytes) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            pem.append(buf, static_cast<std::size_t>(n));
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            if (n < 0) read_errno = errno;
            break;
        }
    }
    ::close(fd);
    if (read_errno != 0) return ca_open_error(o.ca_file, read_errno);
    if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
        return {Status::invalid_argument,
                "MqttOptions::ca_file '" + o.ca_file + "' holds no PEM certificate"};
    }
    if (stamped) {
        std::lock_guard<std::mutex> lock(g_ca_cache_mutex);
        if (ca_cache().size() >= kMaxCachedCaFiles) ca_cache().clear();
        ca_cache()[o.ca_file] = stamp_of(st);
    }
    return {};
}

mqtt::connect_options make_connect_options(const MqttOptions& o) {
    mqtt::connect_options_builder builder;
    builder.mqtt_version(MQTTVERSION_3_1_1)
        .keep_alive_interval(o.keepalive)
        .clean_session(o.clean_session)
        .connect_timeout(whole_seconds_at_least_one(o.connect_timeout))
        .automatic_reconnect(whole_seconds_at_least_one(o.reconnect_min),
                             whole_seconds_at_least_one(o.reconnect_max));
    if (!o.username.empty()) builder.user_name(o.username);
    if (!o.password.empty()) builder.password(o.password);
    if (o.use_tls) builder.ssl(make_ssl_options(o));
    return builder.finalize();
}

Error connect_timeout_error(const ConnectTarget& target) {
    return {Status::timeout, "no answer from " + target.endpoint + " within " +
                                 to_ms_text(target.options.connect_timeout) + " (connect_timeout)"};
}

Error connect_failure_error(const std::exception& e, const ConnectTarget& target,
                            std::chrono::milliseconds elapsed) {
    const MqttOptions& o = target.options;
    FailureContext ctx(Operation::connect, target.endpoint);
    ctx.trust = target.trust;
    ctx.use_tls = o.use_tls;
    ctx.verify = !o.insecure_skip_verify;
    const auto* pe = dynamic_cast<const mqtt::exception*>(&e);
    if (pe != nullptr && pe->get_return_code() == MQTTASYNC_FAILURE) {
        // Paho's own connect timeout (whole seconds) is a bare failure too.
        if (elapsed >= o.connect_timeout) return connect_timeout_error(target);
        ctx.reachability = probe_tcp(o.host, o.port, kProbeTimeout);
    }
    return map_paho_error(e, ctx);
}

}  // namespace ota::detail

namespace ota {

// ---- PahoChannel's connect attempts (see paho_channel_impl.hpp) --------------------------------

using std::chrono::milliseconds;

Error PahoChannel::Impl::start_attempt_locked(bool background) {
    if (client) {
        bool failed = false;
        {
            std::lock_guard<std::mutex> lock(state_mutex);
            failed = outcome.has_value() && !outcome->ok();
        }
        if (!failed) {
            return {Status::invalid_state,
                    (outcome.has_value() ? "already connected to " : "already connecting to ") +
                        endpoint + "; call disconnect() first"};
        }
        destroy_client_locked();
        inbox.purge_state_events();
    }
    try {
        auto cli = std::make_unique<mqtt::async_client>(uri, options.client_id);
        cli->set_connected_handler([this](const std::string&) { on_connected(); });
        cli->set_connection_lost_handler(
            [this](const std::string& cause) { on_connection_lost(cause); });
        cli->set_message_callback([this](mqtt::const_message_ptr msg) { on_message(msg); });
        cli->set_update_connection_handler([this](mqtt::connect_data&) {
            on_reconnect_attempt();
            return false;  // keep the credentials as they are
        });
        const mqtt::connect_options opts = detail::make_connect_options(options);
        {
            std::lock_guard<std::mutex> lock(state_mutex);
            live_client = cli.get();
            ever_connected = false;
            reconnect_attempts = 0;
            lost_before_attempt = lost_count;
            outcome.reset();
            attempt_in_background = background;
            attempt_started = std::chrono::steady_clock::now();
        }
        client = std::move(cli);
        if (options.use_tls && options.insecure_skip_verify) {
            log(LogLevel::warning, "MQTT TLS certificate verification is OFF for " + endpoint +
                                       " (insecure_skip_verify): anyone on the path can "
                                       "impersonate the broker");
        }
        client->connect(opts, nullptr, connect_listener);
        return {};
    } catch (const std::exception& e) {
        Error err = detail::connect_failure_error(e, target(), milliseconds{0});
        destroy_client_locked();
        inbox.purge_state_events();
        std::lock_guard<std::mutex> lock(state_mutex);
        outcome = err;
        return warned(std::move(err));
    }
}

Error PahoChannel::Impl::connect_locked() {
    if (Error err = start_attempt_locked(false); !err.ok()) return err;
    std::optional<Error> result;
    {
        std::unique_lock<std::mutex> lock(state_mutex);
        state_cv.wait_for(lock, options.connect_timeout, [this] { return outcome.has_value(); });
        result = outcome;
    }
    if (!result.has_value()) {
        Error err = detail::connect_timeout_error(target());
        destroy_client_locked();
        inbox.purge_state_events();
        std::lock_guard<std::mutex> lock(state_mutex);
        outcome = err;
        return warned(std::move(err));
    }
    if (!result->ok()) {  // logged by on_attempt_done
        destroy_client_locked();
        inbox.purge_state_events();
    }
    return *result;
}

void PahoChannel::Impl::on_attempt_done(const mqtt::token* failed) noexcept {
    try {
        CallbackScope scope(*this);
        mqtt::async_client* cli = scope.client();
        if (cli == nullptr) return;
        Error result;
        if (failed != nullptr) {
            try {
                // A first connect that failed is not retried: this stops paho's automatic
                // reconnect (it only clears its "should be connected" flag, as the client
                // is not connected).
                cli->disconnect();
            } catch (...) {
                // MQTTASYNC_DISCONNECTED is expected here.
            }
            milliseconds elapsed{0};
            {
                std::lock_guard<std::mutex> lock(state_mutex);
                elapsed = std::chrono::duration_cast<milliseconds>(
                    std::chrono::steady_clock::now() - attempt_started);
            }
            const mqtt::exception e(failed->get_return_code(), failed->get_reason_code());
            result = detail::connect_failure_error(e, target(), elapsed);
        }
        bool background = false;
        {
            std::lock_guard<std::mutex> lock(state_mutex);
            // Unless the connection already dropped again, it is up now (the connected
            // callback may run a moment after the connect token completes).
            if (result.ok() && lost_count == lost_before_attempt) connected.store(true);
            outcome = result;
            background = attempt_in_background;
        }
        state_cv.notify_all();
        if (result.ok()) {
            log(LogLevel::info,
                "MQTT connected to " + uri + " as '" + options.client_id + "'" +
                    (options.use_tls ? (options.insecure_skip_verify ? " (TLS, NOT verified)"
                                                                     : " (TLS, verified)")
                                     : " (plain TCP)"));
        } else {
            log(LogLevel::warning, "MQTT connect failed: " + result.message());
        }
        if (background) notify_event();
    } catch (...) {
        log(LogLevel::error, "MQTT connect callback failed unexpectedly");
    }
}

}  // namespace ota
