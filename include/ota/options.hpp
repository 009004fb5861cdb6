// Every tunable of the OTA client in one place, with its default and range beside it.
#pragma once

#include <chrono>
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

}  // namespace ota
