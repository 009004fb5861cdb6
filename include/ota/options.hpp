// Every tunable of the OTA client in one place, with its default and range beside it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ota {

/// How often progress is reported to the cloud. Steps 1..99 are sent only when they are at least
/// `min_points` above the last sent step AND at least `min_interval` after it; 0 (download
/// started), 100 and failures (negative steps) are always sent.
struct ProgressPolicy {
    int min_points = 5;                         ///< 1..100; the official SDK uses 5
    std::chrono::milliseconds min_interval{50};  ///< >= 0; the official SDK uses 50 ms
};

/// Options of one OtaClient. Obtain defaults with `ClientOptions{}` and set the identity.
struct ClientOptions {
    std::string product_key;  ///< required, 1..20 characters, no '/', '+', '#'
    std::string device_name;  ///< required, 1..32 characters, no '/', '+', '#'
    std::string module;       ///< optional module name (0..64 characters); empty = default module

    int progress_qos = 0;  ///< 0 or 1; QoS of progress reports (inform and get use QoS 1)
    ProgressPolicy progress;

    /// The client reports download progress itself from fetch_yield (throttled as above). The
    /// C shim turns this off so that, as in the original SDK, the application reports progress.
    bool auto_progress = true;

    /// Jobs announcing more bytes than this are refused before downloading (step -1).
    /// 1..UINT64_MAX; default 8 GiB.
    std::uint64_t max_image_size = 8ULL * 1024 * 1024 * 1024;

    /// Accept plain http:// image URLs. Off by default: only https:// is fetched.
    bool allow_http = false;

    /// After the last byte, how long fetch_yield waits for the server to confirm the end of the
    /// body (to detect a body longer than announced). 1 ms .. 60 s; default 5 s.
    std::chrono::milliseconds end_of_body_wait{5000};
};

/// Options of the paho-based MQTT channel (PahoChannel). Fill host/port/credentials from
/// make_connection_info(); everything else has production defaults.
struct MqttOptions {
    std::string host;         ///< broker host name or address; required
    std::uint16_t port = 443; ///< 1..65535
    std::string client_id;    ///< required
    std::string username;
    std::string password;     ///< secret: never logged

    /// TLS is on unless plain TCP is explicitly chosen (securemode 3).
    bool use_tls = true;
    /// PEM bundle to verify the broker with; empty = the system's CA store.
    std::string ca_file;
    /// Turns off broker certificate verification. Insecure: for lab use only; logged as a warning.
    bool insecure_skip_verify = false;

    std::chrono::seconds keepalive{60};  ///< 10..1200 s; the seed uses 60 s
    bool clean_session = false;          ///< the seed uses clean_session 0
    std::chrono::milliseconds connect_timeout{10000};  ///< first connect; 100 ms..120 s
    std::chrono::milliseconds reconnect_min{1000};     ///< first reconnect delay; >= 100 ms
    std::chrono::milliseconds reconnect_max{60000};    ///< backoff cap; >= reconnect_min
    /// Incoming messages held until yield() hands them over; further ones are dropped (logged).
    std::size_t max_queued_messages = 256;  ///< 1..65536
};

/// Options of the libcurl-based HTTPS byte source (CurlByteSource).
struct HttpOptions {
    /// PEM bundle to verify firmware servers with; empty = the system's CA bundle. Separate from
    /// MqttOptions::ca_file because the firmware host (OSS/CDN) is not the broker.
    std::string ca_file;
    /// Turns off server certificate verification. Insecure: for lab use only; logged as a warning.
    bool insecure_skip_verify = false;
    /// Fetch plain http:// URLs (and follow redirects to them). Off: https only.
    bool allow_http = false;
    std::chrono::milliseconds connect_timeout{15000};  ///< TCP+TLS connect; 100 ms..120 s
    /// A transfer slower than low_speed_bytes_per_s for low_speed_window fails (stall detection).
    std::uint32_t low_speed_bytes_per_s = 1024;       ///< 0 disables
    std::chrono::seconds low_speed_window{30};        ///< 1..3600 s
    long max_redirects = 5;                           ///< 0..20; redirects must stay https
    /// Bytes buffered between the transfer thread and read(); bounds memory use. 16 KiB..64 MiB.
    std::size_t buffer_size = 512 * 1024;
};

}  // namespace ota
