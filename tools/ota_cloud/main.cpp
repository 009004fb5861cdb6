// ota_cloud: the cloud side of an OTA job, for local use against a lab broker.
//
//   ota_cloud push --file PATH --url URL --version V  <device> <broker> [--sign-method md5|sha256]
//                  [--module M] [--ext-data JSON] [--serve-get] [--no-push] [--wait-inform]
//                  [--timeout SECONDS] [--settle SECONDS] [--timestamps]
//   ota_cloud push --mqtt-stream --file PATH --version V <device> <broker> [the options above]
//                  [--stream-id N] [--stream-file-id N] [--max-block BYTES]
//                  [--drop-share P] [--corrupt-share P] [--delay-share P --delay-ms N] [--seed N]
//   ota_cloud raw  --topic T --payload TEXT <broker> [--timestamps]
//   ota_cloud sign --file PATH --key PRIVATE_KEY [--key-id ID] [--ext-data JSON]
//   ota_cloud console <command> ...   drives an ota_console's REST API (console_client.hpp;
//                                     `ota_cloud console --help` lists the commands)
//
//   <device>: --product-key PK --device-name DN
//   <broker>: --host H --port P [--ca-file PEM | --no-tls] --user U  (password from the
//             OTA_CLOUD_PASSWORD environment variable, or --password P)
//
// `push` computes the image's size and digest, publishes the upgrade push (and, with --serve-get,
// answers every firmware/get with it), then prints the device's version reports and progress
// until the device reports 100 and no failure follows within --settle seconds (default 1.5; exit
// 0), a failure step (exit 3), or --timeout passes (exit 6).
// The image is read and hashed in pieces, before connecting. --timestamps starts every line on
// stdout with the wall-clock time of its event (seconds since the epoch); for "pushed version"
// that is the moment just before the push was published.
// With --mqtt-stream the job is an MQTT download (dProtocol "mqtt", PROTOCOL.md 5b; no --url):
// ota_cloud also answers the device's block requests from --file until it exits, and prints a
// "blocks:" summary line at the end. --drop-share, --corrupt-share and --delay-share (a share as
// 0.1 or 10%) leave unanswered, corrupt (one byte of the block or of its CRC) or delay by
// --delay-ms that share of the answers; --seed makes the choice reproducible.
// `sign` prints the job's extData (the given --ext-data, or {}) with a "signature" member over
// the image's SHA-256 (ECDSA P-256 or RSA-PSS, chosen by the key), for `push --ext-data`;
// `push --sign-key PRIVATE_KEY [--key-id ID]` does the same and attaches it in one step.
// Exit 2: usage error; 1: anything else.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "block_server.hpp"
#include "common/file_digest.hpp"
#include "console_client.hpp"
#include "ota/digest.hpp"
#include "ota/file_download.hpp"
#include "ota/log.hpp"
#include "ota/paho/paho_channel.hpp"
#include "ota/protocol.hpp"
#include "ota/signature.hpp"
#include "tcp_nodelay.hpp"

namespace {

const char* const kUsageText =
    "usage: ota_cloud push --file PATH --url URL --version V --product-key PK --device-name DN\n"
    "                      --host H --port P [--ca-file PEM | --no-tls] --user U [--password P]\n"
    "                      [--sign-method md5|sha256] [--module M] [--ext-data JSON]\n"
    "                      [--serve-get] [--no-push] [--wait-inform] [--timeout SECONDS]\n"
    "                      [--settle SECONDS] [--timestamps]\n"
    "       ota_cloud raw --topic T --payload TEXT --host H --port P [--ca-file PEM | --no-tls]\n"
    "                      --user U [--password P] [--timestamps]\n"
    "       ota_cloud sign --file PATH --key PRIVATE_KEY [--key-id ID] [--ext-data JSON]\n"
    "       ota_cloud console <command> ...  (ota_console's REST API; see console --help)\n"
    "push also takes [--sign-key PRIVATE_KEY [--key-id ID]] to sign the image into extData.\n"
    "push --mqtt-stream publishes an MQTT download job (no --url) and answers the device's block\n"
    "requests from --file: [--stream-id N (default: from the clock)] [--stream-file-id N (1)]\n"
    "[--max-block BYTES (1048576; larger requests get code 400)] [--drop-share P]\n"
    "[--corrupt-share P] [--delay-share P --delay-ms N] [--seed N (1)]; P is 0.1 or 10%.\n"
    "The broker password may also come from the OTA_CLOUD_PASSWORD environment variable.\n";

constexpr int kExitOk = 0;
constexpr int kExitOther = 1;
constexpr int kExitUsage = 2;
constexpr int kExitDeviceFailed = 3;
constexpr int kExitTimeout = 6;

using Options = std::map<std::string, std::string>;

const std::vector<std::string> kFlags = {"--no-tls",      "--serve-get",  "--no-push",
                                         "--wait-inform", "--timestamps", "--mqtt-stream"};

bool is_flag(const std::string& opt) {
    for (const auto& f : kFlags) {
        if (f == opt) return true;
    }
    return false;
}

std::optional<Options> parse(int argc, char** argv, std::string& err) {
    Options o;
    for (int i = 2; i < argc; ++i) {
        const std::string opt = argv[i];
        if (opt.rfind("--", 0) != 0) {
            err = "unexpected argument " + opt;
            return std::nullopt;
        }
        if (is_flag(opt)) {
            o[opt] = "1";
        } else if (i + 1 < argc) {
            o[opt] = argv[++i];
        } else {
            err = opt + " needs a value";
            return std::nullopt;
        }
    }
    return o;
}

std::string get(const Options& o, const std::string& key) {
    auto it = o.find(key);
    return it == o.end() ? std::string() : it->second;
}

std::unique_ptr<ota::PahoChannel> connect_broker(const Options& o, std::string& err) {
    ota::MqttOptions mo;
    mo.host = get(o, "--host");
    const std::string port = get(o, "--port");
    mo.port = static_cast<std::uint16_t>(std::strtoul(port.c_str(), nullptr, 10));
    mo.use_tls = o.count("--no-tls") == 0;
    mo.ca_file = get(o, "--ca-file");
    mo.username = get(o, "--user");
    mo.password = get(o, "--password");
    if (mo.password.empty()) {
        if (const char* env = std::getenv("OTA_CLOUD_PASSWORD")) mo.password = env;
    }
    mo.client_id =
        "ota-cloud-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    mo.clean_session = true;
    if (mo.host.empty() || mo.port == 0 || mo.username.empty()) {
        err = "--host, --port and --user are required";
        return nullptr;
    }
    auto ch = std::make_unique<ota::PahoChannel>(std::move(mo));
    if (const ota::Error e = ch->connect(); !e.ok()) {
        err = "cannot connect to the broker: " + e.message();
        return nullptr;
    }
    return ch;
}

// With --timestamps every line on stdout starts with the wall-clock time (seconds since the
// epoch, microseconds) of the event it reports, so that a benchmark can line it up with another
// process's output.
bool g_timestamps = false;

double epoch_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void stamp(double at) {
    if (g_timestamps) std::printf("%.6f ", at);
}

// Prints what the device reports and remembers the outcome.
class DeviceWatcher final : public ota::ChannelListener {
  public:
    DeviceWatcher(ota::MqttChannel& ch, ota::Topics topics, std::string reply)
        : ch_(ch), topics_(std::move(topics)), reply_(std::move(reply)) {}

    void on_message(std::string_view topic, std::string_view payload) override {
        const auto j = nlohmann::json::parse(payload, nullptr, false);
        const nlohmann::json params =
            (j.is_object() && j.contains("params")) ? j["params"] : nlohmann::json::object();
        stamp(epoch_seconds());
        if (topic == topics_.inform) {
            const std::string v = params.value("version", "");
            std::printf("device reports version %s\n", v.c_str());
            informed = true;
        } else if (topic == topics_.progress && params.is_object()) {
            const std::string step = params.value("step", "");
            const std::string desc = params.value("desc", "");
            std::printf("device progress: step %s%s%s\n", step.c_str(), desc.empty() ? "" : " ",
                        desc.c_str());
            const int s = std::atoi(step.c_str());
            if (s == 100) finished = true;
            if (s < 0) failed = true;
        } else if (topic == topics_.firmware_get) {
            std::printf("device asks for its pending job (firmware/get)\n");
            if (!reply_.empty()) {
                if (ch_.publish(topics_.get_reply, reply_, 1) != ota::Status::ok) {
                    std::fprintf(stderr, "ota_cloud: could not answer firmware/get\n");
                }
            }
        }
        std::fflush(stdout);
    }

    bool informed = false;
    bool finished = false;
    bool failed = false;

  private:
    ota::MqttChannel& ch_;
    ota::Topics topics_;
    std::string reply_;
};

int cmd_raw(const Options& o) {
    const std::string topic = get(o, "--topic");
    if (topic.empty() || o.count("--payload") == 0) {
        std::fprintf(stderr, "ota_cloud raw: --topic and --payload are required\n%s", kUsageText);
        return kExitUsage;
    }
    std::string err;
    auto ch = connect_broker(o, err);
    if (!ch) {
        std::fprintf(stderr, "ota_cloud: %s\n", err.c_str());
        return kExitOther;
    }
    if (ch->publish(topic, get(o, "--payload"), 1) != ota::Status::ok) {
        std::fprintf(stderr, "ota_cloud: publish failed\n");
        return kExitOther;
    }
    stamp(epoch_seconds());
    std::printf("published %zu bytes on %s\n", get(o, "--payload").size(), topic.c_str());
    return kExitOk;
}

// extData `ext_data` (empty = {}) plus a "signature" over the SHA-256 of the file at
// `image_path`, made with the private key in `key_path`, into `out`. Returns an error message, or
// empty on success.
std::string signed_ext_data(const std::string& image_path, const std::string& key_path,
                            const std::string& key_id, const std::string& ext_data,
                            std::string& out) {
    std::uint64_t size = 0;
    std::string hex;
    if (const ota::Error e =
            ota::tools::digest_file(image_path, ota::DigestAlgorithm::sha256, size, hex);
        !e.ok()) {
        return e.detail;
    }
    std::uint8_t sha256[ota::kSignedDigestSize] = {};
    for (std::size_t i = 0; i < sizeof sha256; ++i) {
        sha256[i] = static_cast<std::uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
    }
    std::ifstream in(key_path, std::ios::binary);
    if (!in) return "cannot read " + key_path;
    const std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ota::ImageSignature sig;
    if (const ota::Error e = ota::sign_image_digest(key, sha256, key_id, sig); !e.ok()) {
        return key_path + ": " + e.message();
    }
    if (const ota::Error e = ota::encode_signature_ext_data(sig, ext_data, out); !e.ok()) {
        return e.message();
    }
    return {};
}

int cmd_sign(const Options& o) {
    const std::string file = get(o, "--file");
    const std::string key = get(o, "--key");
    if (file.empty() || key.empty()) {
        std::fprintf(stderr, "ota_cloud sign: --file and --key are required\n%s", kUsageText);
        return kExitUsage;
    }
    std::string ext_data;
    if (const std::string e =
            signed_ext_data(file, key, get(o, "--key-id"), get(o, "--ext-data"), ext_data);
        !e.empty()) {
        std::fprintf(stderr, "ota_cloud sign: %s\n", e.c_str());
        return kExitOther;
    }
    std::printf("%s\n", ext_data.c_str());
    return kExitOk;
}

bool parse_u64(const Options& o, const std::string& key, std::uint64_t& out) {
    if (o.count(key) == 0) return true;
    const std::string v = get(o, key);
    char* end = nullptr;
    errno = 0;
    const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || v[0] == '-' || *end != '\0' || errno != 0) return false;
    out = n;
    return true;
}

// The block server's settings from the push options; an error message, or empty.
std::string mqtt_stream_options(const Options& o, const std::string& file,
                                ota_cloud::BlockServerOptions& so) {
    so.file = file;
    so.stream_id = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch() /
                                              std::chrono::milliseconds(1)) %
                       1000000 +
                   1;
    std::uint64_t max_block = so.max_block;
    std::uint64_t delay_ms = 0;
    if (!parse_u64(o, "--stream-id", so.stream_id)) return "--stream-id needs a whole number";
    if (!parse_u64(o, "--stream-file-id", so.file_id)) {
        return "--stream-file-id needs a whole number";
    }
    if (!parse_u64(o, "--max-block", max_block) || max_block == 0 || max_block > (64U << 20U)) {
        return "--max-block needs a number of bytes from 1 to 67108864";
    }
    so.max_block = static_cast<std::size_t>(max_block);
    if (!parse_u64(o, "--delay-ms", delay_ms) || delay_ms > 600000) {
        return "--delay-ms needs a number of milliseconds up to 600000";
    }
    so.delay = std::chrono::milliseconds(delay_ms);
    if (!parse_u64(o, "--seed", so.seed)) return "--seed needs a whole number";
    for (const auto& [flag, share] :
         {std::pair<const char*, double*>{"--drop-share", &so.drop_share},
          {"--corrupt-share", &so.corrupt_share},
          {"--delay-share", &so.delay_share}}) {
        if (o.count(flag) && !ota_cloud::parse_share(get(o, flag), *share)) {
            return std::string(flag) + " needs a share from 0 to 1 (0.1 or 10%)";
        }
    }
    if (so.drop_share + so.corrupt_share + so.delay_share > 1.0) {
        return "--drop-share, --corrupt-share and --delay-share add up to more than 1";
    }
    if (so.delay_share > 0 && so.delay.count() == 0) return "--delay-share needs --delay-ms";
    return {};
}

int cmd_push(const Options& o) {
    const std::string pk = get(o, "--product-key");
    const std::string dn = get(o, "--device-name");
    const std::string file = get(o, "--file");
    ota::UpgradeJob job;
    job.version = get(o, "--version");
    job.url = get(o, "--url");
    job.module = get(o, "--module");
    job.ext_data_json = get(o, "--ext-data");
    const bool mqtt = o.count("--mqtt-stream") != 0;
    if (pk.empty() || dn.empty() || file.empty() || job.version.empty() ||
        (job.url.empty() && !mqtt)) {
        std::fprintf(stderr,
                     "ota_cloud push: --product-key, --device-name, --file, --version and --url "
                     "(or --mqtt-stream) are required\n%s",
                     kUsageText);
        return kExitUsage;
    }
    ota_cloud::BlockServerOptions stream;
    if (mqtt) {
        if (const std::string e = mqtt_stream_options(o, file, stream); !e.empty()) {
            std::fprintf(stderr, "ota_cloud push: %s\n%s", e.c_str(), kUsageText);
            return kExitUsage;
        }
        job.protocol = ota::DownloadProtocol::mqtt;
        job.stream_id = stream.stream_id;
        job.stream_file_id = stream.file_id;
    }
    const std::string method = o.count("--sign-method") ? get(o, "--sign-method") : "md5";
    if (method == "md5") {
        job.digest.algorithm = ota::DigestAlgorithm::md5;
    } else if (method == "sha256") {
        job.digest.algorithm = ota::DigestAlgorithm::sha256;
    } else {
        std::fprintf(stderr, "ota_cloud push: --sign-method is md5 or sha256\n");
        return kExitUsage;
    }
    std::uint64_t image_size = 0;
    if (const ota::Error e =
            ota::tools::digest_file(file, job.digest.algorithm, image_size, job.digest.hex);
        !e.ok()) {
        std::fprintf(stderr, "ota_cloud push: %s\n", e.detail.c_str());
        return kExitUsage;
    }
    job.size = image_size;
    if (o.count("--sign-key")) {
        if (const std::string e = signed_ext_data(file, get(o, "--sign-key"), get(o, "--key-id"),
                                                  job.ext_data_json, job.ext_data_json);
            !e.empty()) {
            std::fprintf(stderr, "ota_cloud push: %s\n", e.c_str());
            return kExitOther;
        }
    }
    const double timeout_s = o.count("--timeout") ? std::atof(get(o, "--timeout").c_str()) : 600.0;
    const double settle_s = o.count("--settle") ? std::atof(get(o, "--settle").c_str()) : 1.5;

    std::string err;
    auto ch = connect_broker(o, err);
    if (!ch) {
        std::fprintf(stderr, "ota_cloud: %s\n", err.c_str());
        return kExitOther;
    }
    const ota::Topics topics = ota::make_topics(pk, dn);
    const auto id = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch() /
                                               std::chrono::milliseconds(1));
    const std::string push = ota::encode_upgrade_push(job, id);
    DeviceWatcher watcher(*ch, topics, o.count("--serve-get") ? push : std::string());
    ch->add_listener(watcher);
    for (const auto* t : {&topics.inform, &topics.progress, &topics.firmware_get}) {
        if (ch->subscribe(*t, 1) != ota::Status::ok) {
            std::fprintf(stderr, "ota_cloud: cannot subscribe %s\n", t->c_str());
            return kExitOther;
        }
    }
    // Subscribed after the report topics, so that after a broker restart (subscriptions are
    // restored in order) no block is served before the reports it leads to can be seen.
    std::unique_ptr<ota_cloud::BlockServer> server;
    ota_cloud::NoDelayOnConnect nodelay;
    if (mqtt) {
        server = std::make_unique<ota_cloud::BlockServer>(
            *ch, ota::make_file_download_topics(pk, dn), stream);
        if (const std::string e = server->open(); !e.empty()) {
            std::fprintf(stderr, "ota_cloud push: %s\n", e.c_str());
            return kExitOther;
        }
        ch->add_listener(*server);
        // Block replies must not wait for ACKs (tcp_nodelay.hpp): now, and after reconnects.
        (void)ota_cloud::set_tcp_nodelay_on_tcp_sockets();
        ch->add_listener(nodelay);
        if (!server->subscribe()) {
            std::fprintf(stderr, "ota_cloud: cannot subscribe the block requests\n");
            ch->remove_listener(*server);
            ch->remove_listener(nodelay);
            return kExitOther;
        }
        stamp(epoch_seconds());
        std::printf("serving stream %llu file %llu: %llu bytes\n",
                    static_cast<unsigned long long>(stream.stream_id),
                    static_cast<unsigned long long>(stream.file_id),
                    static_cast<unsigned long long>(server->file_size()));
    }
    // Waits for events; delayed block answers go out on time.
    auto pump = [&](std::chrono::milliseconds cap) {
        (void)ch->yield(server ? server->flush_due(cap) : cap);
    };
    stamp(epoch_seconds());
    std::printf("watching device %s/%s\n", pk.c_str(), dn.c_str());
    std::fflush(stdout);
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(timeout_s));
    auto timed_out = [&] { return std::chrono::steady_clock::now() >= deadline; };

    if (o.count("--wait-inform")) {
        stamp(epoch_seconds());
        std::printf("waiting for the device to report its version\n");
        std::fflush(stdout);
        while (!watcher.informed && !timed_out()) pump(std::chrono::milliseconds(200));
    }
    if (o.count("--no-push") == 0 && !timed_out()) {
        // Taken before publishing: the device may start while the PUBACK is still on its way.
        const double pushed_at = epoch_seconds();
        if (ch->publish(topics.upgrade, push, 1) != ota::Status::ok) {
            std::fprintf(stderr, "ota_cloud: cannot publish the upgrade push\n");
            return kExitOther;
        }
        stamp(pushed_at);
        std::printf("pushed version %s: %llu bytes, %s %s\n", job.version.c_str(),
                    static_cast<unsigned long long>(job.size), ota::to_string(job.digest.algorithm),
                    job.digest.hex.c_str());
        std::fflush(stdout);
    }
    while (!watcher.finished && !watcher.failed && !timed_out()) {
        pump(std::chrono::milliseconds(200));
    }
    // 100 means "downloaded", not "verified": the original SDK's flow reports 100 before it checks
    // the digest, so a -3 may still follow. Keep listening for a moment.
    const auto settle_end = std::chrono::steady_clock::now() +
                            std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                std::chrono::duration<double>(settle_s));
    while (watcher.finished && !watcher.failed && std::chrono::steady_clock::now() < settle_end) {
        pump(std::chrono::milliseconds(100));
    }
    ch->remove_listener(watcher);
    if (server) {
        ch->remove_listener(*server);
        ch->remove_listener(nodelay);
        const auto& s = server->stats();
        std::printf(
            "blocks: %llu requests, %llu served, %llu dropped, %llu corrupted, %llu delayed, "
            "%llu refused, %llu bytes sent\n",
            static_cast<unsigned long long>(s.requests), static_cast<unsigned long long>(s.served),
            static_cast<unsigned long long>(s.dropped),
            static_cast<unsigned long long>(s.corrupted),
            static_cast<unsigned long long>(s.delayed), static_cast<unsigned long long>(s.refused),
            static_cast<unsigned long long>(s.bytes));
        std::fflush(stdout);
    }
    if (watcher.failed) return kExitDeviceFailed;
    if (watcher.finished) return kExitOk;
    std::fprintf(stderr, "ota_cloud: no final progress from the device within %g s\n", timeout_s);
    return kExitTimeout;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help") {
        std::fputs(kUsageText, argc < 2 ? stderr : stdout);
        return argc < 2 ? kExitUsage : kExitOk;
    }
    if (std::string(argv[1]) == "console") {
        try {
            return ota_cloud::run_console(std::vector<std::string>(argv + 2, argv + argc));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "ota_cloud console: unexpected error: %s\n", e.what());
            return kExitOther;
        }
    }
    std::string err;
    const auto opts = parse(argc, argv, err);
    if (!opts) {
        std::fprintf(stderr, "ota_cloud: %s\n%s", err.c_str(), kUsageText);
        return kExitUsage;
    }
    const std::string cmd = argv[1];
    g_timestamps = opts->count("--timestamps") != 0;
    try {
        if (cmd == "push") return cmd_push(*opts);
        if (cmd == "raw") return cmd_raw(*opts);
        if (cmd == "sign") return cmd_sign(*opts);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ota_cloud: unexpected error: %s\n", e.what());
        return kExitOther;
    }
    std::fprintf(stderr, "ota_cloud: unknown command %s\n%s", cmd.c_str(), kUsageText);
    return kExitUsage;
}
