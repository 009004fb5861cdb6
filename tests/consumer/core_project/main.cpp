// One OTA job through ota::core alone: an in-process "cloud" channel, an in-memory image as the
// byte source and an in-memory sink. Exits 0 when the image arrived, verified and committed.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "ota/client.hpp"
#include "ota/digest.hpp"
#include "ota/protocol.hpp"

namespace {

// Delivers what the "cloud" queued to the listeners inside yield(), as a real channel does.
class LoopChannel final : public ota::MqttChannel {
  public:
    ota::Status publish(std::string_view topic, std::string_view payload, int) override {
        std::printf("device -> %.*s: %.*s\n", static_cast<int>(topic.size()), topic.data(),
                    static_cast<int>(payload.size()), payload.data());
        return ota::Status::ok;
    }
    ota::Status subscribe(std::string_view, int) override { return ota::Status::ok; }
    void add_listener(ota::ChannelListener& l) override { listener_ = &l; }
    void remove_listener(ota::ChannelListener&) noexcept override { listener_ = nullptr; }
    bool is_connected() const noexcept override { return true; }
    ota::Status yield(std::chrono::milliseconds) override {
        std::vector<std::pair<std::string, std::string>> inbox;
        inbox.swap(inbox_);
        for (auto& m : inbox) {
            if (listener_ != nullptr) listener_->on_message(m.first, m.second);
        }
        return ota::Status::ok;
    }
    void cloud_publish(std::string topic, std::string payload) {
        inbox_.emplace_back(std::move(topic), std::move(payload));
    }

  private:
    ota::ChannelListener* listener_ = nullptr;
    std::vector<std::pair<std::string, std::string>> inbox_;
};

// Serves `image` from the requested offset in pieces of at most 1000 bytes.
class MemorySource final : public ota::ByteSource {
  public:
    explicit MemorySource(const std::vector<std::uint8_t>& image) : image_(image) {}
    ota::Error open(std::string_view, std::uint64_t offset) override {
        pos_ = static_cast<std::size_t>(offset);
        head_.http_status = offset == 0 ? 200 : 206;
        head_.content_length = image_.size() - pos_;
        head_given_ = false;
        return {};
    }
    ota::ReadResult read(std::uint8_t* buf, std::size_t len, std::chrono::milliseconds) override {
        ota::ReadResult r;
        r.bytes = std::min({len, image_.size() - pos_, std::size_t{1000}});
        std::memcpy(buf, image_.data() + pos_, r.bytes);
        pos_ += r.bytes;
        r.end_of_body = pos_ == image_.size();
        if (!head_given_) r.head = &head_;
        head_given_ = true;
        return r;
    }
    std::string last_error_detail() const override { return {}; }
    void close() noexcept override {}

  private:
    const std::vector<std::uint8_t>& image_;
    std::size_t pos_ = 0;
    ota::ResponseHead head_;
    bool head_given_ = false;
};

// Keeps the image in memory; "commit" marks it valid.
class MemorySink final : public ota::FirmwareSink {
  public:
    ota::Status begin(std::uint64_t size) override {
        data.assign(static_cast<std::size_t>(size), 0);
        return ota::Status::ok;
    }
    ota::Status write(std::uint64_t off, const std::uint8_t* p, std::size_t n) override {
        std::memcpy(data.data() + off, p, n);
        return ota::Status::ok;
    }
    ota::Status read(std::uint64_t off, std::uint8_t* out, std::size_t n) override {
        std::memcpy(out, data.data() + off, n);
        return ota::Status::ok;
    }
    ota::Status flush() override { return ota::Status::ok; }
    ota::Status commit() override {
        committed = true;
        return ota::Status::ok;
    }
    void abort() noexcept override { data.clear(); }

    std::vector<std::uint8_t> data;
    bool committed = false;
};

}  // namespace

int main() {
    std::vector<std::uint8_t> image(100000);
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<std::uint8_t>(i * 7);
    ota::Hasher md5;
    std::string hex;
    if (md5.start(ota::DigestAlgorithm::md5) != ota::Status::ok ||
        md5.update(image.data(), image.size()) != ota::Status::ok ||
        md5.finish_hex(hex) != ota::Status::ok) {
        return 1;
    }

    LoopChannel channel;
    MemorySource source(image);
    MemorySink sink;
    ota::ClientOptions options;
    options.product_key = "a1core";
    options.device_name = "consumer";
    ota::OtaClient client(channel, source, options);
    if (!client.init().ok() || !client.set_sink(&sink).ok() ||
        !client.report_version("1.0.0").ok()) {
        return 2;
    }

    ota::UpgradeJob job;
    job.version = "1.1.0";
    job.size = image.size();
    job.url = "https://firmware.invalid/image.bin";
    job.digest.hex = hex;
    channel.cloud_publish(ota::make_topics(options.product_key, options.device_name).upgrade,
                          ota::encode_upgrade_push(job, 1));
    (void)client.poll(std::chrono::milliseconds(0));

    std::vector<std::uint8_t> buf(4096);
    for (int i = 0; i < 10000 && !client.is_fetch_finished(); ++i) {
        const ota::FetchResult r =
            client.fetch_yield(buf.data(), buf.size(), std::chrono::milliseconds(10));
        if (r.status != ota::Status::ok) return 3;
    }
    bool valid = false;
    if (!client.check_firmware(valid).ok() || !valid || !sink.committed || sink.data != image) {
        return 4;
    }
    std::printf("core consumer OK: %zu bytes verified (md5 %s) and committed\n", image.size(),
                hex.c_str());
    return 0;
}
