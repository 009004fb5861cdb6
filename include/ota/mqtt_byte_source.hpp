// The byte source of MQTT downloads (`dProtocol: "mqtt"`, PROTOCOL.md section 5b): the image is
// asked for block by block on the device's own MQTT connection and handed out in order, behind
// the same ByteSource seam as the HTTPS source, so that the client judges, retries, resumes and
// verifies an MQTT download exactly like an HTTPS one.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ota/byte_source.hpp"
#include "ota/channel.hpp"
#include "ota/clock.hpp"
#include "ota/file_download.hpp"
#include "ota/options.hpp"

namespace ota {

/// Fetches one stream file over MQTT (`thing/file/download` requests, `download_reply` blocks).
///
/// Use: set_stream() with the job's ids and size, then open() with a pseudo-URL starting with
/// "mqtt:" (only for logs; e.g. "mqtt:stream/25914/file/1") and read() as from any ByteSource.
/// The first open() subscribes to the reply topic (QoS 0); each open() listens to the channel until
/// close(), and picks a fileToken unique in the process: replies carrying another token (a previous
/// attempt's, or another client's on the same channel) are ignored.
///
/// Up to `window` requests of `block_size` bytes are in flight; replies are checked (framing,
/// CRC, code, offset) and copied once into preallocated slots, then once into the caller's
/// buffer, strictly in order. A shorter block than asked is kept and the rest asked for again.
/// A request without a valid answer is sent again after an adaptive timeout (smoothed round trip
/// + 4 x its deviation, between min_reply_timeout and reply_timeout; doubled for each further
/// request of the same block), a bad block (CRC, length, code, offset) at once. After
/// max_requests_per_block requests of one block without a valid answer read() fails with
/// Status::timeout (a transient failure: the client opens again at the bytes it has).
///
/// The first result of each open() that carries bytes or end_of_body carries a ResponseHead as
/// an HTTP server would send it: 200 from offset 0, else 206 with `Content-Range: bytes
/// <offset>-<total-1>/<total>`, and Content-Length total - offset, where total is the cloud's
/// `fileLength` (so a file of another size than the job's fails the client's size check).
/// end_of_body comes with the last byte.
///
/// read() waits inside channel.yield() (bounded by its timeout and by the next re-request), so
/// the caller's wait serves the channel as a whole. Single-threaded like the channel: every call
/// on the application's thread.
class MqttByteSource final : public ByteSource, public ChannelListener {
  public:
    /// `channel` and `clock` must outlive the source. `options` must be valid
    /// (MqttDownloadOptions::validate()); open() refuses invalid ones.
    MqttByteSource(MqttChannel& channel, std::string_view product_key, std::string_view device_name,
                   MqttDownloadOptions options, const Clock& clock);
    ~MqttByteSource() override;
    MqttByteSource(const MqttByteSource&) = delete;
    MqttByteSource& operator=(const MqttByteSource&) = delete;

    /// The stream the next open() fetches: the job's `streamId`, `streamFileId` and `size` (no
    /// block beyond `size` is asked for).
    void set_stream(std::uint64_t stream_id, std::uint64_t file_id, std::uint64_t size) noexcept;

    /// Starts fetching the stream from `offset`; `url` must start with "mqtt:" (anything else,
    /// e.g. an https URL, is invalid_argument). Closes a previous transfer first.
    [[nodiscard]] Error open(std::string_view url, std::uint64_t offset) override;
    /// See the class comment.
    [[nodiscard]] ReadResult read(std::uint8_t* buf, std::size_t len,
                                  std::chrono::milliseconds timeout) override;
    /// Why read() failed (which block, after how many requests, the last problem), else empty.
    [[nodiscard]] std::string last_error_detail() const override;
    /// Stops listening and forgets the blocks in flight (late replies are ignored).
    void close() noexcept override;

    /// Replies on the reply topic (others are ignored).
    void on_message(std::string_view topic, std::string_view payload) override;
    /// Sends the requests that could not be sent or were lost with the connection.
    void on_connected() override;
    /// The requests in flight are lost (QoS 0): they are sent again once connected.
    void on_connection_lost() override;

    /// Requests published since construction (tests and benchmarks).
    [[nodiscard]] std::uint64_t requests_sent() const noexcept { return requests_sent_; }
    /// The current adaptive reply timeout.
    [[nodiscard]] std::chrono::milliseconds reply_timeout() const noexcept;

  private:
    struct Slot;
    void reset() noexcept;
    void plan_slots();
    void send(Slot& slot);
    void service_timers(Clock::time_point now);
    void retry_slot(Slot& slot, const char* why);
    Slot* find_slot(const BlockReply& reply, bool by_offset);
    void accept(Slot& slot, const BlockReplyHeader& header, std::string_view block);
    void note_rtt(std::chrono::nanoseconds rtt) noexcept;
    [[nodiscard]] std::chrono::nanoseconds slot_timeout(const Slot& slot) const noexcept;
    Slot& slot_at(std::size_t i) noexcept;

    MqttChannel& channel_;
    FileDownloadTopics topics_;
    MqttDownloadOptions options_;
    const Clock& clock_;

    std::uint64_t stream_id_ = 0;
    std::uint64_t file_id_ = 0;
    std::uint64_t size_ = 0;

    std::unique_ptr<std::uint8_t[]> buffer_;  // window x block_size, allocated at the first open
    std::unique_ptr<Slot[]> slots_;
    std::size_t head_ = 0;   // the slot holding the next bytes to hand out
    std::size_t count_ = 0;  // slots in use, from head_ on

    bool subscribed_ = false;  // the reply topic, once per source
    bool open_ = false;
    bool listening_ = false;
    bool head_given_ = false;
    bool failed_ = false;
    std::string token_;
    std::uint64_t next_id_ = 0;
    std::uint64_t offset_ = 0;      // where this open() started
    std::uint64_t pos_ = 0;         // next byte to hand out
    std::uint64_t next_block_ = 0;  // offset of the next block to plan
    std::uint64_t total_ = 0;       // the cloud's fileLength (0 until the first valid block)
    std::uint64_t events_ = 0;      // replies and reconnects seen, to tell a wake-up
    std::uint64_t ignored_ = 0;     // replies matching no slot (stale, duplicate, other token)
    std::uint64_t requests_sent_ = 0;
    ResponseHead head_info_;
    std::string error_;

    // Round-trip estimate (RFC 6298 style), in nanoseconds.
    std::int64_t srtt_ = 0;
    std::int64_t rttvar_ = 0;
    bool rtt_known_ = false;
};

}  // namespace ota
