// The cloud's half of MQTT downloads (PROTOCOL.md 5b) for local use: answers a device's block
// requests from a file, with optional faults (drop, corrupt, delay) so that tests can exercise
// the device's checks.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "ota/channel.hpp"
#include "ota/file_download.hpp"

namespace ota_cloud {

/// What the server answers and which faults it injects.
struct BlockServerOptions {
    std::string file;                 ///< the image the blocks come from
    std::uint64_t stream_id = 0;      ///< the job's streamId; requests for another are refused
    std::uint64_t file_id = 1;        ///< the job's streamFileId
    std::size_t max_block = 1 << 20;  ///< larger requests are refused (code 400)
    double drop_share = 0;            ///< share of requests left unanswered
    double corrupt_share = 0;         ///< share answered with a flipped byte (block or CRC)
    double delay_share = 0;           ///< share answered `delay` late
    std::chrono::milliseconds delay{0};
    std::uint64_t seed = 1;  ///< the fault draws are reproducible for a given seed
};

/// Counters for the summary line.
struct BlockServerStats {
    std::uint64_t requests = 0;   ///< block requests received (well-formed or not)
    std::uint64_t served = 0;     ///< answered with code 200 and a good block
    std::uint64_t dropped = 0;    ///< left unanswered on purpose
    std::uint64_t corrupted = 0;  ///< answered with a flipped byte
    std::uint64_t delayed = 0;    ///< answered late (good block)
    std::uint64_t refused = 0;    ///< answered with a code other than 200
    std::uint64_t bytes = 0;      ///< block bytes sent (all answers with code 200)
};

/// Serves one stream to one device: subscribe() the request topic, let the channel deliver to
/// on_message(), and call flush_due() often (the main loop) so that delayed answers go out.
/// The file is read with pread per block (nothing of it is kept), so memory does not grow with
/// the image. Not thread-safe: everything runs on the thread that calls yield().
class BlockServer final : public ota::ChannelListener {
  public:
    BlockServer(ota::MqttChannel& channel, ota::FileDownloadTopics topics,
                BlockServerOptions options);
    ~BlockServer() override;
    BlockServer(const BlockServer&) = delete;
    BlockServer& operator=(const BlockServer&) = delete;

    /// Opens the file and learns its size. Returns an error message, or empty on success.
    std::string open();
    /// Subscribes the request topic (QoS 0, as the device publishes). False on failure.
    bool subscribe();

    void on_message(std::string_view topic, std::string_view payload) override;

    /// Publishes the delayed answers that are due; returns how long until the next one is
    /// (at most `cap`), for the caller's yield timeout.
    std::chrono::milliseconds flush_due(std::chrono::milliseconds cap);

    [[nodiscard]] const BlockServerStats& stats() const { return stats_; }
    [[nodiscard]] std::uint64_t file_size() const { return size_; }

  private:
    using Clock = std::chrono::steady_clock;
    struct Delayed {
        Clock::time_point due;
        std::string payload;
    };

    void answer(const ota::BlockRequest& req);
    void refuse(const std::string& id, int code, const std::string& why);
    void send(const std::string& payload);

    ota::MqttChannel& channel_;
    ota::FileDownloadTopics topics_;
    BlockServerOptions options_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
    std::string block_;  // reused read buffer
    std::mt19937_64 rng_;
    std::vector<Delayed> delayed_;
    BlockServerStats stats_;
};

/// Parses a share ("0.1", "10%") into [0, 1]; false when it is not one.
bool parse_share(const std::string& text, double& share);

}  // namespace ota_cloud
