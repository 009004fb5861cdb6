// The cloud side of MQTT downloads for unit tests: answers the device's block requests
// (thing/file/download) from a byte string on the fake broker, with per-test misbehaviour, and a
// channel wrapper that serves this cloud whenever the device's channel is yielded, so that a
// device waiting in yield() gets its answers as from a real broker.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ota/channel.hpp"
#include "ota/file_download.hpp"
#include "support/fake_broker.hpp"

namespace ota::test {

/// What the cloud does with one request (set by FakeFileCloud::misbehave).
struct CloudAnswer {
    bool drop = false;              ///< no answer at all
    int copies = 1;                 ///< > 1: the same reply again (duplicates)
    int code = 200;                 ///< other than 200: an error reply without data
    bool bad_crc = false;           ///< one block byte flipped after the CRC was computed
    bool short_payload = false;     ///< the payload loses its last byte (length mismatch)
    std::int64_t offset_shift = 0;  ///< added to bOffset (the block is the one asked for)
    std::size_t cap = 0;            ///< > 0: at most this many bytes per block
    std::string token;              ///< non-empty: this fileToken instead of the request's
    bool echo_id = true;            ///< false: the reply's id is not the request's
};

/// Answers block requests of one device from `file`.
class FakeFileCloud final : public ChannelListener {
  public:
    FakeFileCloud(FakeBroker& broker, std::string_view pk, std::string_view dn, std::string file)
        : channel_(broker, "cloud"),
          topics_(make_file_download_topics(pk, dn)),
          file_(std::move(file)) {
        (void)channel_.subscribe(topics_.request, 0);
        channel_.add_listener(*this);
    }
    ~FakeFileCloud() override { channel_.remove_listener(*this); }
    FakeFileCloud(const FakeFileCloud&) = delete;
    FakeFileCloud& operator=(const FakeFileCloud&) = delete;

    /// Called with each request (counted from 0) to decide the answer.
    std::function<void(const BlockRequest&, std::size_t, CloudAnswer&)> misbehave;
    /// fileLength announced in replies; 0 = the file's size.
    std::uint64_t file_length = 0;
    /// Where `file` starts in the stream: the cloud holds only the window [base, base + size) of
    /// a larger file (with file_length), e.g. the end of a 5 GiB image; other offsets get no bytes.
    std::uint64_t base = 0;
    /// Hold requests instead of answering them (release them with answer()).
    bool hold = false;

    /// Handles the requests that arrived (answers them unless `hold`).
    void serve() { (void)channel_.yield(std::chrono::milliseconds(0)); }

    /// Answers the held request `i` (index into held()) and forgets it.
    void answer(std::size_t i) {
        const BlockRequest r = held_.at(i);
        held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(i));
        reply(r, CloudAnswer{});
    }
    [[nodiscard]] const std::vector<BlockRequest>& held() const noexcept { return held_; }
    /// Every request received, in order.
    [[nodiscard]] const std::vector<BlockRequest>& requests() const noexcept { return requests_; }
    void clear_requests() noexcept { requests_.clear(); }
    [[nodiscard]] const FileDownloadTopics& topics() const noexcept { return topics_; }

    void on_message(std::string_view topic, std::string_view payload) override {
        if (topic != topics_.request) return;
        auto req = decode_block_request(payload);
        if (!req) return;
        requests_.push_back(*req);
        if (hold) {
            held_.push_back(*req);
            return;
        }
        CloudAnswer a;
        if (misbehave) misbehave(*req, requests_.size() - 1, a);
        if (!a.drop) reply(*req, a);
    }

    /// Publishes the reply to `r` shaped by `a`.
    void reply(const BlockRequest& r, const CloudAnswer& a) {
        BlockReplyHeader h;
        h.code = a.code;
        h.id = a.echo_id ? r.id : "cloud-" + r.id;
        h.message = a.code == 200 ? "success" : "error";
        h.file_token = a.token.empty() ? r.file_token : a.token;
        h.file_length = file_length != 0 ? file_length : base + file_.size();
        std::string_view block;
        if (r.offset >= base && r.offset - base < file_.size()) {
            const std::uint64_t at = r.offset - base;
            std::uint64_t n = std::min<std::uint64_t>(r.size, file_.size() - at);
            if (a.cap > 0) n = std::min<std::uint64_t>(n, a.cap);
            // Both below file_.size(), so they fit size_t on any target.
            block = std::string_view(file_).substr(static_cast<std::size_t>(at),
                                                   static_cast<std::size_t>(n));
        }
        h.offset = static_cast<std::uint64_t>(static_cast<std::int64_t>(r.offset) + a.offset_shift);
        h.size = block.size();
        std::string payload = encode_block_reply(h, a.code == 200 ? block : std::string_view{});
        if (a.bad_crc && !block.empty()) payload[payload.size() - 3] ^= 0x01;
        if (a.short_payload) payload.pop_back();
        for (int i = 0; i < a.copies; ++i) (void)channel_.publish(topics_.reply, payload, 0);
    }

  private:
    FakeChannel channel_;
    FileDownloadTopics topics_;
    std::string file_;
    std::vector<BlockRequest> requests_;
    std::vector<BlockRequest> held_;
};

/// The device's channel, with the cloud served at every yield() (before the device's own events).
class CloudServedChannel final : public MqttChannel {
  public:
    CloudServedChannel(FakeChannel& device, FakeFileCloud& cloud)
        : device_(device), cloud_(cloud) {}
    Status publish(std::string_view topic, std::string_view payload, int qos) override {
        return device_.publish(topic, payload, qos);
    }
    Status subscribe(std::string_view filter, int qos) override {
        return device_.subscribe(filter, qos);
    }
    void add_listener(ChannelListener& l) override { device_.add_listener(l); }
    void remove_listener(ChannelListener& l) noexcept override { device_.remove_listener(l); }
    bool is_connected() const noexcept override { return device_.is_connected(); }
    Status yield(std::chrono::milliseconds timeout) override {
        ++yields;
        last_timeout = timeout;
        cloud_.serve();
        return device_.yield(timeout);
    }
    std::size_t yields = 0;
    std::chrono::milliseconds last_timeout{0};

  private:
    FakeChannel& device_;
    FakeFileCloud& cloud_;
};

}  // namespace ota::test
