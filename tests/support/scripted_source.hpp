// A ByteSource that replays a scripted HTTP response, for unit tests.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ota/byte_source.hpp"
#include "ota/clock.hpp"
#include "ota/status.hpp"

namespace ota::test {

/// What the scripted server answers to an open() (see ScriptedSource::set_script).
struct ScriptedResponse {
    int status = 200;                             ///< HTTP status code
    std::string content_range;                    ///< raw header value, empty = absent
    std::optional<std::uint64_t> content_length;  ///< announced length, empty = unknown
    std::vector<std::uint8_t> body;               ///< the bytes served
    std::size_t max_chunk = 4096;                 ///< at most this many bytes per read()
    std::optional<std::size_t> end_after;         ///< end the body early after N bytes
    std::size_t extra_bytes = 0;                  ///< serve this many 0xEE bytes after `body`
    std::optional<std::size_t> fail_after;        ///< after N bytes, read() fails with fail_status
    Status fail_status = Status::fetch_failed;
    std::size_t idle_reads = 0;        ///< the first K reads return nothing (headers not yet known)
    std::size_t idle_before_end = 0;   ///< K reads return nothing between the last byte and the end
    bool never_end = false;            ///< after the last byte, never signal end_of_body
    bool end_with_last_chunk = false;  ///< signal end_of_body together with the last bytes
    bool honor_offset = false;         ///< serve from open()'s offset instead of from 0
    /// Answer like a server that honours Range: serve from open()'s offset and, when it is > 0,
    /// reply 206 with the matching Content-Range and Content-Length (computed at open()).
    bool range_from_offset = false;
    /// After this absolute position, read() returns nothing forever (a stalled transfer).
    std::optional<std::size_t> stall_after;
    /// What retry_after() reports once the headers are known.
    std::optional<std::chrono::seconds> retry_after;
    /// open() fails with this error (the call is still recorded).
    std::optional<Error> open_error;
};

/// Replays a ScriptedResponse. read() never allocates. Like a real source, it hands the response
/// head over with the first read() result of an attempt that carries bytes or end_of_body.
class ScriptedSource final : public ByteSource {
  public:
    struct OpenCall {
        std::string url;
        std::uint64_t offset = 0;
        Clock::time_point at{};  ///< the clock's time of the call (set_clock), else epoch
    };

    ScriptedSource() = default;
    explicit ScriptedSource(ScriptedResponse response) : response_(std::move(response)) {}

    /// One response for every open() from now on (also changes the current transfer's script).
    void set_response(ScriptedResponse response) {
        upcoming_.clear();
        response_ = std::move(response);
    }
    /// A sequence of responses: each open() takes the next one; the last one repeats.
    void set_script(std::vector<ScriptedResponse> responses) {
        upcoming_.assign(responses.begin(), responses.end());
    }
    /// Records the time of each open() from `clock` (nullptr: no time).
    void set_clock(const Clock* clock) noexcept { clock_ = clock; }
    [[nodiscard]] ScriptedResponse& response() noexcept { return response_; }
    /// Makes the next open() calls fail with `error` (Status::ok restores).
    void set_open_error(Error error) { open_error_ = std::move(error); }

    [[nodiscard]] Error open(std::string_view url, std::uint64_t offset) override;
    [[nodiscard]] ReadResult read(std::uint8_t* buf, std::size_t len,
                                  std::chrono::milliseconds timeout) override;
    [[nodiscard]] std::string last_error_detail() const override;
    void close() noexcept override;

    [[nodiscard]] const std::vector<OpenCall>& opens() const noexcept { return opens_; }
    [[nodiscard]] bool is_open() const noexcept { return open_; }
    [[nodiscard]] std::size_t close_count() const noexcept { return closes_; }
    [[nodiscard]] std::size_t read_count() const noexcept { return reads_; }
    /// Bytes handed out since the last open().
    [[nodiscard]] std::uint64_t served() const noexcept { return pos_ - start_; }
    /// The timeout passed to the most recent read().
    [[nodiscard]] std::chrono::milliseconds last_timeout() const noexcept { return last_timeout_; }

  private:
    [[nodiscard]] std::size_t available_end() const noexcept;
    /// Attaches the head to `r` when it is the attempt's first result with bytes or the end.
    [[nodiscard]] ReadResult with_head(ReadResult r) noexcept;

    ScriptedResponse response_;
    std::deque<ScriptedResponse> upcoming_;
    const Clock* clock_ = nullptr;
    Error open_error_;
    std::vector<OpenCall> opens_;
    bool open_ = false;
    bool headers_known_ = false;
    bool failed_ = false;
    std::size_t pos_ = 0;
    std::size_t start_ = 0;
    std::size_t idle_left_ = 0;
    std::size_t idle_end_left_ = 0;
    std::size_t closes_ = 0;
    std::size_t reads_ = 0;
    std::chrono::milliseconds last_timeout_{0};
    ResponseHead head_;        // filled by open(), handed over once per attempt
    bool head_given_ = false;  // head_ went out with a result of this attempt
};

}  // namespace ota::test
