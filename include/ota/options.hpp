// Every tunable of the OTA client in one place, with its default and range beside it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "ota/auth.hpp"
#include "ota/signature.hpp"
#include "ota/status.hpp"
#include "ota/version.hpp"

namespace ota {

/// How often progress is reported to the cloud. Steps 1..99 are sent only when they are at least
/// `min_points` above the last sent step AND at least `min_interval` after it; 0 (download
/// started), 100 and failures (negative steps) are always sent.
struct ProgressPolicy {
    /// Smallest allowed `min_points`.
    static constexpr int kMinPoints = 1;
    /// Largest allowed `min_points`.
    static constexpr int kMaxPoints = 100;

    int min_points = 5;  ///< kMinPoints..kMaxPoints; the official SDK uses 5
    std::chrono::milliseconds min_interval{50};  ///< >= 0; the official SDK uses 50 ms

    /// invalid_argument naming the first field outside its range, else ok.
    [[nodiscard]] Error validate() const;
};

/// How a download survives transient failures (PROTOCOL.md section 5, "Resume").
///
/// What is retried: transport errors and timeouts of the byte source (Status::fetch_failed,
/// Status::timeout: connections refused, reset or cut, DNS failures, TLS handshakes cut short), a
/// stalled transfer (see `stall_floor_bytes_per_s`), a body that ends before the announced size,
/// and the HTTP statuses 408, 429 and 5xx. Every retry continues from the bytes already fetched
/// with `Range: bytes=<fetched>-` and the same running digest. Everything else fails the job at
/// once, on its first occurrence and without backoff, with the reason in the report: other 4xx
/// statuses, 416, a 206 whose `Content-Range` does not start at the fetched offset or whose total
/// is not the job's size, a Content-Length or body length that disagrees with the size, what the
/// byte source reports as Status::fetch_refused (a TLS certificate that fails verification, a
/// redirect to a refused scheme, a response header too large) (all step -2), storage errors (-4)
/// and a digest mismatch (-3).
///
/// Delay before retry n (n = 1 for the first retry after a failure):
/// `min(max_backoff, initial_backoff * multiplier^(n-1))`, reduced by a random fraction in
/// [0, jitter), and never shorter than the server's `Retry-After` (itself capped at
/// max_backoff). The client does not sleep: fetch_yield() returns "nothing yet" while it waits.
struct RetryPolicy {
    /// Largest allowed `max_attempts`.
    static constexpr int kMaxAttempts = 10000;
    /// Shortest allowed `total_deadline`.
    static constexpr std::chrono::milliseconds kMinTotalDeadline{1000};
    /// Longest allowed `total_deadline` (7 days).
    static constexpr std::chrono::milliseconds kMaxTotalDeadline{7LL * 24 * 3600 * 1000};
    /// Shortest allowed `initial_backoff` and `max_backoff`.
    static constexpr std::chrono::milliseconds kMinBackoff{1};
    /// Longest allowed `max_backoff` (1 h).
    static constexpr std::chrono::milliseconds kMaxBackoff{3600 * 1000};
    /// Range of `multiplier`.
    static constexpr double kMinMultiplier = 1.0;
    /// Range of `multiplier`.
    static constexpr double kMaxMultiplier = 10.0;
    /// Shortest allowed `stall_window`.
    static constexpr std::chrono::milliseconds kMinStallWindow{1000};
    /// Longest allowed `stall_window` (1 h).
    static constexpr std::chrono::milliseconds kMaxStallWindow{3600 * 1000};

    /// Attempts in a row that end without a single new byte before the download fails (step -2).
    /// An attempt that stored new bytes resets this count and the backoff, so a long download
    /// over a connection that drops now and then still completes. 1..kMaxAttempts; 1 = never retry;
    /// default 10.
    int max_attempts = 10;
    /// No new attempt starts later than this after the job's first attempt (the download then
    /// fails with step -2); a transfer that is still making progress is not cut.
    /// kMinTotalDeadline..kMaxTotalDeadline (1 s..7 days); default 30 min.
    std::chrono::milliseconds total_deadline{30 * 60 * 1000};
    /// Delay before the first retry. kMinBackoff..max_backoff; default 1 s.
    std::chrono::milliseconds initial_backoff{1000};
    /// Upper bound of every delay, also of an honoured Retry-After. initial_backoff..kMaxBackoff
    /// (1 h); default 60 s.
    std::chrono::milliseconds max_backoff{60000};
    /// Growth factor of the delay per failed attempt. kMinMultiplier..kMaxMultiplier (1.0..10.0);
    /// default 2.
    double multiplier = 2.0;
    /// Each delay is shortened by a random fraction in [0, jitter), so that many devices cut off
    /// at once do not reconnect in lockstep. 0.0 (no jitter) up to but excluding 1.0;
    /// default 0.2.
    double jitter = 0.2;
    /// Seed of the jitter's pseudo-random generator; 0 = a different seed per client (from
    /// std::random_device). Set it to make delays reproducible in tests.
    std::uint64_t jitter_seed = 0;
    /// Stall detection: a transfer that delivers fewer than `stall_floor_bytes_per_s` *
    /// `stall_window` bytes within `stall_window` (waiting for headers included) is abandoned
    /// and retried like a dropped connection. 0 disables; default 1024 B/s. Time during which the
    /// application did not call fetch_yield() does not count. HttpOptions::low_speed_* is the
    /// transport-level equivalent of the real byte source; either one firing is a transient error.
    std::uint32_t stall_floor_bytes_per_s = 1024;
    /// The stall detector's window. kMinStallWindow..kMaxStallWindow (1 s..1 h); default 30 s.
    std::chrono::milliseconds stall_window{30000};

    /// invalid_argument naming the first field outside its range (NaN included), else ok.
    [[nodiscard]] Error validate() const;
};

/// Crash/power-loss resume (a "resume record" kept through the FirmwareSink).
///
/// While downloading into a sink that supports it (FirmwareSink::save_record, e.g. FileSink), the
/// client flushes the sink and stores a small record: the job's identity (version, size, digest
/// algorithm and hex, URL without its query string, module) and how many bytes are durable.
/// When the process starts again and the same job arrives (push or firmware/get), the client
/// reopens the partial image, re-hashes the durable bytes and continues with a Range request. A
/// record for another job, a malformed or torn record, or one that claims more bytes than the
/// partial image holds is discarded and the download starts from byte 0. The record is removed
/// after commit and after abort. The final digest check still guards the whole image.
struct ResumePolicy {
    /// Largest allowed `record_every_bytes` (1 GiB).
    static constexpr std::uint64_t kMaxRecordEveryBytes = 1ULL << 30;
    /// Longest allowed `record_min_interval` (1 h).
    static constexpr std::chrono::milliseconds kMaxRecordMinInterval{3600 * 1000};

    /// Keep resume records at all. Default on; without a sink that supports records it has no
    /// effect.
    bool enabled = true;
    /// A record is saved only after at least this many new bytes... (1 B..kMaxRecordEveryBytes;
    /// default 1 MiB)
    std::uint64_t record_every_bytes = 1024 * 1024;
    /// ...AND at least this long after the previous record (whichever comes later), which bounds
    /// the flush rate on slow media. 0..kMaxRecordMinInterval (1 h); default 2 s. A record is also
    /// saved (without these limits) whenever a transient failure interrupts the download.
    std::chrono::milliseconds record_min_interval{2000};

    /// invalid_argument naming the first field outside its range, else ok.
    [[nodiscard]] Error validate() const;
};

/// Downloads of jobs with `dProtocol: "mqtt"` (PROTOCOL.md section 5b): the image comes in blocks
/// asked for on the device's own MQTT connection (MqttByteSource). Several requests are kept in
/// flight so that throughput is not one round trip per block; a block with no valid answer is
/// asked for again, and a block that gets none after `max_requests_per_block` requests ends the
/// attempt as a transient failure (RetryPolicy then decides, as for HTTPS).
struct MqttDownloadOptions {
    /// Range of `block_size` (256 B..128 KiB). The upper bound keeps a reply well within common
    /// broker message limits; the platform's own limit on a block was not confirmed here.
    static constexpr std::size_t kMinBlockSize = 256;
    /// Range of `block_size`.
    static constexpr std::size_t kMaxBlockSize = 128 * 1024;
    /// Range of `window`.
    static constexpr std::size_t kMaxWindow = 64;
    /// Shortest allowed `min_reply_timeout`.
    static constexpr std::chrono::milliseconds kMinReplyTimeout{10};
    /// Longest allowed `reply_timeout`.
    static constexpr std::chrono::milliseconds kMaxReplyTimeout{120000};
    /// Largest allowed `max_requests_per_block`.
    static constexpr int kMaxRequestsPerBlock = 100;

    /// Bytes asked for per request. kMinBlockSize..kMaxBlockSize; default 32 KiB (SDK 4 asks for
    /// 5 KiB). A cloud that answers with shorter blocks is fine: the rest is asked for again.
    /// The broker must accept messages of block_size plus about 300 bytes.
    std::size_t block_size = 32 * 1024;
    /// Requests in flight at once. 1..kMaxWindow; default 4. Memory: window * block_size bytes,
    /// allocated at the first MQTT download and kept.
    std::size_t window = 4;
    /// Upper bound of the wait for a reply before a request is sent again (SDK 4 waits 10 s).
    /// The actual wait adapts to the measured round trips (smoothed round trip + 4 x its
    /// deviation, as TCP does) between `min_reply_timeout` and this.
    /// min_reply_timeout..kMaxReplyTimeout; default 10 s.
    std::chrono::milliseconds reply_timeout{10000};
    /// Lower bound of the adaptive wait. kMinReplyTimeout..reply_timeout; default 200 ms.
    std::chrono::milliseconds min_reply_timeout{200};
    /// Requests for one block (unanswered or answered with a bad block) before the attempt ends
    /// as a transient failure (Status::timeout). 1..kMaxRequestsPerBlock; default 5.
    int max_requests_per_block = 5;

    /// invalid_argument naming the first field outside its range, else ok.
    [[nodiscard]] Error validate() const;
};

/// Options of one OtaClient. Obtain defaults with `ClientOptions{}` and set the identity.
struct ClientOptions {
    /// Longest allowed `end_of_body_wait`.
    static constexpr std::chrono::milliseconds kMaxEndOfBodyWait{60000};

    /// required, 1..kMaxProductKeyLength (20) characters, no '/', '+', '#' or control character
    std::string product_key;
    /// required, 1..kMaxDeviceNameLength (32) characters, no '/', '+', '#' or control character
    std::string device_name;
    std::string module;  ///< optional module name (0..64 characters); empty = default module

    int progress_qos = 0;  ///< 0 or 1; QoS of progress reports (inform and get use QoS 1)
    ProgressPolicy progress;

    /// The client reports download progress (1..100) itself from fetch_yield (throttled as
    /// above). The C shim turns this off so that, as in the original SDK, the application reports
    /// progress. Step 0 when a download starts and failure steps are reported either way.
    bool auto_progress = true;

    /// Jobs announcing more bytes than this are refused before downloading (step -1).
    /// 1..UINT64_MAX; default 8 GiB. Independently, a job larger than the sink's
    /// FirmwareSink::capacity() fails with step -4 ("does not fit the storage") before anything
    /// is downloaded.
    std::uint64_t max_image_size = 8ULL * 1024 * 1024 * 1024;

    /// Accept plain http:// image URLs. Off by default: only https:// is fetched (such jobs are
    /// refused with step -1). The byte source has its own switch (HttpOptions::allow_http).
    bool allow_http = false;

    /// Retries, backoff and stall detection of the download.
    RetryPolicy retry;

    /// Crash/power-loss resume through the sink's resume record.
    ResumePolicy resume;

    /// Block size, window and re-request timing of MQTT downloads (jobs with
    /// `dProtocol: "mqtt"`).
    MqttDownloadOptions mqtt_download;

    /// After the last byte, how long fetch_yield waits for the server to confirm the end of the
    /// body (to detect a body longer than announced). 1 ms .. kMaxEndOfBodyWait (60 s); default 5
    /// s.
    std::chrono::milliseconds end_of_body_wait{5000};

    /// Image signatures (signature.hpp). Default: no keys and not required, so signatures are
    /// ignored as in the original SDK. With trusted keys, a signature present in a job's extData
    /// is verified once the announced digest matched and before the sink is committed; a bad one
    /// fails the job with step -3 and the image is never committed. `required` also fails jobs
    /// that carry no signature (init() refuses `required` without a trusted key).
    SignaturePolicy signature;

    /// Anti-downgrade (version.hpp): jobs whose version is not acceptable relative to the version
    /// last passed to OtaClient::report_version() are refused with step -1 before anything is
    /// downloaded, leaving the state untouched. Default `allow` (the original SDK's behaviour);
    /// before any version was reported every job is accepted.
    DowngradePolicy downgrade = DowngradePolicy::allow;

    /// Accept multi-file jobs (`files[]`, PROTOCOL.md section 3). Off by default: such jobs are
    /// refused with step -1, keeping the basic API's one-image semantics. When on, the files are
    /// downloaded one after another into the sink the file sink provider returns for each
    /// (OtaClient::set_file_sink_provider), each verified against its own digest and committed
    /// before the next one starts; progress covers the whole job.
    bool multi_file = false;

    /// Checks every field (identity, QoS, the nested policies and the signature policy) and
    /// returns invalid_argument naming the first one outside its range, else ok. init() calls it.
    [[nodiscard]] Error validate() const;
};

/// Options of the paho-based MQTT channel (PahoChannel). Fill host/port/credentials from
/// make_connection_info(); everything else has production defaults. The ranges below are the
/// named constants validate() checks.
struct MqttOptions {
    /// Longest host name (DNS limit).
    static constexpr std::size_t kMaxHostLength = 253;
    /// Longest client id, user name and password (MQTT strings are 16-bit length-prefixed).
    static constexpr std::size_t kMaxStringLength = 65535;
    /// Range of `keepalive`.
    static constexpr std::chrono::seconds kMinKeepalive{10};
    /// Range of `keepalive`.
    static constexpr std::chrono::seconds kMaxKeepalive{1200};
    /// Range of `connect_timeout`.
    static constexpr std::chrono::milliseconds kMinConnectTimeout{100};
    /// Range of `connect_timeout`.
    static constexpr std::chrono::milliseconds kMaxConnectTimeout{120000};
    /// Lower bound of `reconnect_min`.
    static constexpr std::chrono::milliseconds kMinReconnect{100};
    /// Upper bound of `max_queued_messages`.
    static constexpr std::size_t kMaxQueuedMessagesLimit = 65536;

    /// Broker host name or address; required, at most kMaxHostLength characters, no spaces,
    /// control characters or '/'.
    std::string host;
    std::uint16_t port = 443;  ///< 1..65535
    std::string client_id;     ///< required; at most kMaxStringLength bytes
    std::string username;      ///< at most kMaxStringLength bytes
    std::string password;      ///< secret: never logged; at most kMaxStringLength bytes

    /// TLS is on unless plain TCP is explicitly chosen (securemode 3).
    bool use_tls = true;
    /// PEM bundle to verify the broker with; empty = the system's CA store. PahoChannel::connect()
    /// refuses a file it cannot read or that holds no PEM certificate.
    std::string ca_file;
    /// Turns off broker certificate verification. Insecure: for lab use only; logged as a warning.
    bool insecure_skip_verify = false;

    std::chrono::seconds keepalive{60};  ///< kMinKeepalive..kMaxKeepalive; the seed uses 60 s
    bool clean_session = false;          ///< the seed uses clean_session 0
    /// First connect; kMinConnectTimeout..kMaxConnectTimeout.
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds reconnect_min{1000};   ///< first reconnect delay; >= kMinReconnect
    std::chrono::milliseconds reconnect_max{60000};  ///< backoff cap; >= reconnect_min
    /// Incoming messages held until yield() hands them over, 1..kMaxQueuedMessagesLimit. Past
    /// it, a new message takes the place of the oldest one a newer message on the same topic
    /// supersedes (logged): the newest message of every topic is kept, e.g. the last push of a
    /// burst (PahoChannel).
    std::size_t max_queued_messages = 256;

    /// Broker address and credentials from make_connection_info(); everything else (TLS on with
    /// the system CAs, the seed's keepalive and session) keeps its default.
    [[nodiscard]] static MqttOptions from(const ConnectionInfo& conn) {
        MqttOptions o;
        o.host = conn.host;
        o.port = conn.port;
        o.client_id = conn.client_id;
        o.username = conn.username;
        o.password = conn.password;
        return o;
    }

    /// ok when every field is within the ranges above; otherwise invalid_argument naming the
    /// first field that is not (never the password's value). Pure: does not open ca_file.
    [[nodiscard]] Error validate() const;
};

/// The buffers of an HTTPS download in one place, as memory profiles. Most of a download's
/// memory is these three buffers (README "Memory"); everything else the library allocates is
/// small and does not grow with the image.
///
/// - `fetch_buffer`: the buffer the application passes to OtaClient::fetch_yield() (the library
///   never allocates it). Each call hashes and stores what fits in it, so a larger one means fewer
///   calls and sink writes.
/// - `download_ring`: HttpOptions::buffer_size, the ring between libcurl's transfer thread and
///   fetch_yield(). It lets the network run ahead while the application hashes and writes.
/// - `receive_buffer`: HttpOptions::receive_buffer_size, libcurl's own receive buffer. Over TLS
///   libcurl fills at most one TLS record (16 KiB) of it per read, so only that much is ever
///   touched; over plain HTTP all of it is.
struct BufferProfile {
    std::size_t fetch_buffer;    ///< bytes passed to fetch_yield()
    std::size_t download_ring;   ///< HttpOptions::buffer_size
    std::size_t receive_buffer;  ///< HttpOptions::receive_buffer_size

    /// The defaults: 256 KiB fetch buffer, 1 MiB ring, 256 KiB receive buffer (about 1.4 MiB
    /// touched over TLS). README "Memory" compares them with larger buffers
    /// (bench/memory_bench.sh).
    [[nodiscard]] static constexpr BufferProfile standard() {
        return {256 * 1024, 1024 * 1024, 256 * 1024};
    }
    /// For devices where every MiB counts: 64 KiB fetch buffer, 128 KiB ring, 16 KiB receive
    /// buffer (one TLS record), about 1.1 MiB less than standard(). More thread hand-offs and
    /// fetch_yield() calls per MiB, so less throughput on a busy CPU (README "Memory").
    [[nodiscard]] static constexpr BufferProfile low_memory() {
        return {64 * 1024, 128 * 1024, 16 * 1024};
    }
};

/// Options of the libcurl-based HTTPS byte source (CurlByteSource). The ranges below are the
/// named constants validate() checks; CurlByteSource::open() refuses options outside them.
struct HttpOptions {
    /// Range of `connect_timeout`.
    static constexpr std::chrono::milliseconds kMinConnectTimeout{100};
    /// Range of `connect_timeout`.
    static constexpr std::chrono::milliseconds kMaxConnectTimeout{120000};
    /// Range of `low_speed_window`.
    static constexpr std::chrono::seconds kMinLowSpeedWindow{1};
    /// Range of `low_speed_window`.
    static constexpr std::chrono::seconds kMaxLowSpeedWindow{3600};
    /// Upper bound of `max_redirects`.
    static constexpr long kMaxRedirectsLimit = 20;
    /// Range of `buffer_size`.
    static constexpr std::size_t kMinBufferSize = 16 * 1024;
    /// Range of `buffer_size`.
    static constexpr std::size_t kMaxBufferSize = 64 * 1024 * 1024;
    /// Range of `receive_buffer_size` (libcurl's own limits on CURLOPT_BUFFERSIZE).
    static constexpr std::size_t kMinReceiveBufferSize = 1024;
    /// Range of `receive_buffer_size`.
    static constexpr std::size_t kMaxReceiveBufferSize = 512 * 1024;

    /// PEM bundle to verify firmware servers with; empty = the system's CA bundle. Separate from
    /// MqttOptions::ca_file because the firmware host (OSS/CDN) is not the broker.
    std::string ca_file;
    /// Turns off server certificate verification. Insecure: for lab use only; logged as a warning.
    bool insecure_skip_verify = false;
    /// Fetch plain http:// URLs (and follow redirects to them). Off: https only.
    bool allow_http = false;
    /// TCP+TLS connect; kMinConnectTimeout..kMaxConnectTimeout (100 ms..120 s).
    std::chrono::milliseconds connect_timeout{15000};
    /// A transfer slower than low_speed_bytes_per_s for low_speed_window fails (stall detection).
    std::uint32_t low_speed_bytes_per_s = 1024;  ///< 0 disables
    /// kMinLowSpeedWindow..kMaxLowSpeedWindow (1..3600 s).
    std::chrono::seconds low_speed_window{30};
    /// 0..kMaxRedirectsLimit (20); redirects must stay https.
    long max_redirects = 5;
    /// Bytes buffered between the transfer thread and read() (the download ring, allocated by
    /// the first open() and kept); bounds memory use. kMinBufferSize..kMaxBufferSize
    /// (16 KiB..64 MiB); default 1 MiB (BufferProfile::standard()).
    std::size_t buffer_size = BufferProfile::standard().download_ring;
    /// libcurl's receive buffer (CURLOPT_BUFFERSIZE). kMinReceiveBufferSize..kMaxReceiveBufferSize
    /// (1..512 KiB); default 256 KiB (BufferProfile::standard()). Over TLS only one record
    /// (16 KiB) of it is used per read.
    std::size_t receive_buffer_size = BufferProfile::standard().receive_buffer;

    /// These options with the buffer sizes of `profile` (the fetch buffer is the application's).
    [[nodiscard]] HttpOptions with_buffers(const BufferProfile& profile) const {
        HttpOptions o = *this;
        o.buffer_size = profile.download_ring;
        o.receive_buffer_size = profile.receive_buffer;
        return o;
    }

    /// ok when every field is within the ranges above; otherwise invalid_argument naming the
    /// first field that is not and the range.
    [[nodiscard]] Error validate() const;
};

}  // namespace ota
