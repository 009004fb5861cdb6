// The device side: see mqtt_bridge.hpp.
#include "mqtt/mqtt_bridge.hpp"

#include <algorithm>
#include <exception>
#include <fstream>

#include "mqtt/rate_limited_log.hpp"
#include "ota/log.hpp"

namespace console {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kYieldWait{100};

RateLimitedLog g_malformed_log;
RateLimitedLog g_unknown_log;
RateLimitedLog g_dropped_log;
RateLimitedLog g_backpressure_log;
RateLimitedLog g_connect_log;

std::string printable(std::string_view s) {
    std::string out;
    const std::size_t n = std::min<std::size_t>(s.size(), 200);
    for (std::size_t i = 0; i < n; ++i) {
        const auto u = static_cast<unsigned char>(s[i]);
        out += (u < 0x20 || u >= 0x7f) ? '?' : s[i];
    }
    if (s.size() > n) out += "...";
    return out;
}

}  // namespace

// ---- MqttBridge --------------------------------------------------------------------------------

MqttBridge::MqttBridge(ota::MqttChannel& channel, Metrics& metrics, MqttBridgeOptions options)
    : channel_(channel), metrics_(metrics), options_(std::move(options)) {}

MqttBridge::~MqttBridge() {
    stop();
}

std::vector<std::string> MqttBridge::topic_filters() const {
    const std::string prefix =
        options_.share_group.empty() ? std::string() : "$share/" + options_.share_group + "/";
    return {prefix + "/ota/device/inform/+/+", prefix + "/ota/device/progress/+/+",
            prefix + "/sys/+/+/thing/file/download", prefix + "/sys/+/+/thing/ota/firmware/get"};
}

void MqttBridge::attach(DeviceMessageTarget& target) {
    target_ = &target;
    channel_.add_listener(*this);
    for (const std::string& filter : topic_filters()) {
        // While disconnected the channel remembers the filter and subscribes on connect.
        const ota::Status s = channel_.subscribe(filter, 1);
        if (s != ota::Status::ok && s != ota::Status::not_connected) {
            ota::log(ota::LogLevel::error,
                     "cannot subscribe to " + filter + ": " + std::string(ota::to_string(s)));
        }
    }
}

void MqttBridge::start(std::function<ota::Error()> connect) {
    pump_thread_ = std::thread([this, connect = std::move(connect)] { pump_loop(connect); });
    worker_thread_ = std::thread([this] { worker_loop(); });
}

void MqttBridge::stop() noexcept {
    stop_.store(true);
    {
        std::lock_guard<std::mutex> lock(queue_mutex_);
        stopping_ = true;
    }
    queue_cv_.notify_all();
    room_cv_.notify_all();
    if (pump_thread_.joinable()) pump_thread_.join();
    if (worker_thread_.joinable()) worker_thread_.join();
    if (target_ != nullptr) {
        channel_.remove_listener(*this);
        target_ = nullptr;
    }
}

bool MqttBridge::publish(const std::string& topic, const std::string& payload) {
    if (!channel_.is_connected()) {
        ++metrics_.mqtt_publish_failures;
        return false;
    }
    const ota::Status s = channel_.publish(topic, payload, 1);
    if (s != ota::Status::ok) {
        ++metrics_.mqtt_publish_failures;
        return false;
    }
    ++metrics_.mqtt_published;
    return true;
}

void MqttBridge::pump(milliseconds timeout) {
    (void)channel_.yield(timeout);
}

std::size_t MqttBridge::queued() const {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    return queue_.size();
}

void MqttBridge::on_message(std::string_view topic, std::string_view payload) {
    ++metrics_.mqtt_messages_received;
    DecodeResult r = decode_device_message(topic, payload);
    if (!r.message) {
        ++metrics_.mqtt_messages_malformed;
        g_malformed_log.log(ota::LogLevel::warning,
                            "ignored a device message on " + printable(topic) + ": " + r.error);
        return;
    }
    {
        std::unique_lock<std::mutex> lock(queue_mutex_);
        if (queue_.size() >= options_.queue_capacity && !stopping_) {
            // Back-pressure: the pump stops taking from the channel until the worker makes room
            // (see the file comment for what the channel's inbox does meanwhile).
            g_backpressure_log.log(ota::LogLevel::warning,
                                   "device message queue full (" +
                                       std::to_string(options_.queue_capacity) +
                                       "): waiting for the store before taking more");
            room_cv_.wait(lock,
                          [this] { return stopping_ || queue_.size() < options_.queue_capacity; });
        }
        if (queue_.size() < options_.queue_capacity) {
            queue_.push_back(std::move(*r.message));
            metrics_.mqtt_queue_depth.store(static_cast<std::int64_t>(queue_.size()));
            queue_cv_.notify_one();
            return;
        }
    }
    // Only when stopping with a full queue: not applied, counted.
    ++metrics_.mqtt_messages_dropped;
    g_dropped_log.log(
        ota::LogLevel::warning,
        "stopping with a full device message queue: dropped a message on " + printable(topic));
}

void MqttBridge::on_connected() {
    connected_.store(true);
    metrics_.mqtt_connected.store(1);
    ota::log(ota::LogLevel::info, "console MQTT connected; device topics subscribed");
}

void MqttBridge::on_connection_lost() {
    connected_.store(false);
    metrics_.mqtt_connected.store(0);
}

bool MqttBridge::sleep_unless_stopped(milliseconds d) {
    std::unique_lock<std::mutex> lock(queue_mutex_);
    queue_cv_.wait_for(lock, d, [this] { return stopping_; });
    return !stopping_;
}

void MqttBridge::pump_loop(const std::function<ota::Error()>& connect) noexcept {
    try {
        milliseconds delay = options_.connect_retry_min;
        while (!stop_.load()) {
            const ota::Error e = connect();
            if (e.ok()) break;
            g_connect_log.log(ota::LogLevel::warning,
                              "console cannot connect to the broker (retrying, next in " +
                                  std::to_string(delay.count()) + " ms): " + e.message());
            if (!sleep_unless_stopped(delay)) return;
            delay = std::min(delay * 2, options_.connect_retry_max);
        }
        while (!stop_.load()) pump(kYieldWait);
    } catch (const std::exception& e) {
        ota::log(ota::LogLevel::error, std::string("MQTT pump thread failed: ") + e.what());
    } catch (...) {
        ota::log(ota::LogLevel::error, "MQTT pump thread failed");
    }
}

void MqttBridge::worker_loop() noexcept {
    while (true) {
        try {
            {
                std::unique_lock<std::mutex> lock(queue_mutex_);
                queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
                if (queue_.empty()) return;  // stopping and nothing left
            }
            (void)apply_pending();
        } catch (const std::exception& e) {
            ota::log(ota::LogLevel::error, std::string("MQTT worker: ") + e.what());
        } catch (...) {
            ota::log(ota::LogLevel::error, "MQTT worker: unexpected failure");
        }
    }
}

std::size_t MqttBridge::apply_pending() {
    std::vector<DeviceMessage> batch;
    {
        std::lock_guard<std::mutex> lock(queue_mutex_);
        const std::size_t n = std::min(queue_.size(), options_.batch_max);
        batch.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            batch.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        metrics_.mqtt_queue_depth.store(static_cast<std::int64_t>(queue_.size()));
    }
    if (!batch.empty()) room_cv_.notify_all();  // a pump waiting for room takes more
    if (!batch.empty()) apply(batch);
    return batch.size();
}

void MqttBridge::apply(std::vector<DeviceMessage>& batch) {
    if (target_ == nullptr) return;
    // Block requests read files: served after the batch, outside its transaction.
    std::vector<DeviceMessage> blocks;
    for (auto it = batch.begin(); it != batch.end();) {
        if (it->kind == DeviceMessageKind::block_request) {
            blocks.push_back(std::move(*it));
            it = batch.erase(it);
        } else {
            ++it;
        }
    }
    apply_batch(batch);
    for (const DeviceMessage& m : blocks) {
        try {
            const std::string reply = serve_block(m);
            if (reply.empty()) continue;
            (void)publish(block_reply_topic(m.device), reply);
            ++metrics_.mqtt_messages_processed;
        } catch (const std::exception& e) {
            ota::log(ota::LogLevel::error, "block request of " + printable(m.device.product_key) +
                                               "/" + printable(m.device.device_name) +
                                               " not served: " + e.what());
        }
    }
}

std::string MqttBridge::serve_block(const DeviceMessage& m) {
    if (target_ == nullptr || !target_->is_registered(m.device)) {
        ++metrics_.mqtt_unknown_device;
        g_unknown_log.log(ota::LogLevel::warning,
                          "ignored the block request of the unregistered "
                          "device " +
                              printable(m.device.product_key) + "/" +
                              printable(m.device.device_name));
        return {};
    }
    const ota::BlockRequest& req = m.block;
    const auto refuse = [&](int code, const std::string& why) {
        g_malformed_log.log(ota::LogLevel::warning,
                            "refused a block request of " + printable(m.device.product_key) + "/" +
                                printable(m.device.device_name) + " (code " + std::to_string(code) +
                                "): " + why);
        ota::BlockReplyHeader h;
        h.code = code;
        h.id = req.id;
        h.message = why;
        return ota::encode_block_reply(h, {});
    };
    const std::optional<Firmware> f = target_->stream_firmware(m.device, req.stream_id);
    if (!f) {
        return refuse(kBlockForbidden,
                      "no download task over MQTT for stream " + std::to_string(req.stream_id));
    }
    if (req.file_id != 1) {
        return refuse(kBlockNotFound, "no file " + std::to_string(req.file_id) + " in stream " +
                                          std::to_string(req.stream_id));
    }
    if (!options_.file_path) return refuse(kBlockNotFound, "this console serves no files");
    if (req.size == 0 || req.size > options_.max_block) {
        return refuse(kBlockBadRequest, "block size " + std::to_string(req.size) +
                                            " is not in 1.." + std::to_string(options_.max_block));
    }
    std::ifstream in(options_.file_path(*f), std::ios::binary);
    if (!in) return refuse(kBlockReadFailed, "cannot open the firmware's file");
    in.seekg(0, std::ios::end);
    const std::streamoff end = in.tellg();
    if (end < 0) return refuse(kBlockReadFailed, "cannot read the firmware's file");
    const auto length = static_cast<std::uint64_t>(end);
    if (req.offset >= length) {
        return refuse(kBlockBadRequest, "offset " + std::to_string(req.offset) +
                                            " is beyond the file's " + std::to_string(length) +
                                            " bytes");
    }
    // The last block is shorter than asked for, as the platform answers.
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(req.size, length - req.offset));
    std::string block(n, '\0');
    in.seekg(static_cast<std::streamoff>(req.offset));
    in.read(block.data(), static_cast<std::streamsize>(n));
    if (!in || static_cast<std::size_t>(in.gcount()) != n) {
        return refuse(kBlockReadFailed,
                      "cannot read the firmware's file at " + std::to_string(req.offset));
    }
    ota::BlockReplyHeader h;
    h.id = req.id;
    h.file_token = req.file_token;
    h.file_length = length;
    h.offset = req.offset;
    return ota::encode_block_reply(h, block);
}

void MqttBridge::apply_batch(std::vector<DeviceMessage>& batch) {
    if (batch.empty()) return;
    std::vector<std::pair<std::string, std::string>> replies;
    std::int64_t processed = 0;
    std::int64_t unknown = 0;
    try {
        target_->batch([&] {
            for (const DeviceMessage& m : batch) apply_one(m, replies, processed, unknown);
        });
    } catch (const std::exception& e) {
        // One bad message (or a store hiccup) must not lose the whole batch: apply one by one.
        ++metrics_.mqtt_batch_failures;
        ota::log(
            ota::LogLevel::warning,
            std::string("a batch of device messages failed, applying one by one: ") + e.what());
        replies.clear();
        processed = 0;
        unknown = 0;
        for (const DeviceMessage& m : batch) {
            std::vector<std::pair<std::string, std::string>> one_reply;
            std::int64_t p = 0;
            std::int64_t u = 0;
            try {
                target_->batch([&] { apply_one(m, one_reply, p, u); });
                processed += p;
                unknown += u;
                for (auto& r : one_reply) replies.push_back(std::move(r));
            } catch (const std::exception& e2) {
                ota::log(ota::LogLevel::error, "device message from " + m.device.product_key + "/" +
                                                   m.device.device_name +
                                                   " not applied: " + e2.what());
            }
        }
    }
    metrics_.mqtt_messages_processed += processed;
    metrics_.mqtt_unknown_device += unknown;
    for (const auto& [topic, payload] : replies) (void)publish(topic, payload);
}

void MqttBridge::apply_one(const DeviceMessage& m,
                           std::vector<std::pair<std::string, std::string>>& replies,
                           std::int64_t& processed, std::int64_t& unknown) {
    if (!target_->is_registered(m.device)) {
        ++unknown;
        g_unknown_log.log(ota::LogLevel::warning, "ignored the " + std::string(to_string(m.kind)) +
                                                      " message of the unregistered device " +
                                                      printable(m.device.product_key) + "/" +
                                                      printable(m.device.device_name));
        return;
    }
    switch (m.kind) {
        case DeviceMessageKind::inform:
            (void)target_->on_inform(m.device, m.module, m.version);
            break;
        case DeviceMessageKind::progress:
            (void)target_->on_progress(m.device, m.module, m.step, m.desc);
            break;
        case DeviceMessageKind::firmware_get:
            replies.emplace_back(get_reply_topic(m.device),
                                 target_->on_firmware_get(m.device, m.module, m.request_id));
            break;
        case DeviceMessageKind::block_request:
            return;  // served outside the batch (apply())
    }
    ++processed;
}

}  // namespace console
