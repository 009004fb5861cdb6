// A ByteSource that replays a scripted HTTP response, for unit tests.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ota/byte_source.hpp"
#include "ota/status.hpp"

namespace ota::test {

/// What the scripted server answers to every open().
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
};

/// Replays a ScriptedResponse. read() never allocates.
class ScriptedSource final : public ByteSource {
  public:
    struct OpenCall {
        std::string url;
        std::uint64_t offset = 0;
    };

    ScriptedSource() = default;
    explicit ScriptedSource(ScriptedResponse response) : response_(std::move(response)) {}

    /// Replaces the script; takes effect at the next open().
    void set_response(ScriptedResponse response) { response_ = std::move(response); }
    [[nodiscard]] ScriptedResponse& response() noexcept { return response_; }
    /// Makes the next open() calls fail with `error` (Status::ok restores).
    void set_open_error(Error error) { open_error_ = std::move(error); }

    [[nodiscard]] Error open(std::string_view url, std::uint64_t offset) override;
    [[nodiscard]] ReadResult read(std::uint8_t* buf, std::size_t len,
                                  std::chrono::milliseconds timeout) override;
    [[nodiscard]] int http_status() const noexcept override;
    [[nodiscard]] std::string_view content_range() const noexcept override;
    [[nodiscard]] std::optional<std::uint64_t> content_length() const noexcept override;
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

    ScriptedResponse response_;
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
};

}  // namespace ota::test
