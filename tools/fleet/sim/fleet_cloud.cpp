// FleetCloud (fleet_cloud.hpp): one cloud connection for the whole fleet.
//
// Why threads of its own: the channel's events are delivered by yield() on the caller's thread,
// and the fleet's scheduler threads must never wait for the cloud. One thread yields the channel
// and records what arrives; a pool of publisher threads sends the pushes, because a QoS 1 publish
// waits for the broker's PUBACK and one push at a time would cost a round trip each. Measured with
// 1,000 TLS devices in the process (paho 1.3.11): 1,000 pushes take about 6 s either way (one
// thread: 5.9 s, 32: 6.4 s), as paho's one send thread serves every client of the process at
// about 1.5 ms per publish; the pool removes the round trips from the cloud's side of that cost.
// Pushes are paced by one shared deadline that advances 1/push_rate per push.
#include "fleet_cloud.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>

#include "common/device_message.hpp"
#include "common/file_digest.hpp"
#include "ota/channel.hpp"
#include "ota/paho/paho_channel.hpp"
#include "ota/protocol.hpp"

namespace ota::fleet {

ota::Error cloud_options_from(const RunOptions& run, FleetCloudOptions& out) {
    if (!run.has_push) return {ota::Status::invalid_argument, "--push-url is required"};
    out.mqtt.host = run.host;
    out.mqtt.port = run.port;
    out.mqtt.use_tls = run.tls;
    out.mqtt.ca_file = run.ca_file;
    out.mqtt.username = run.push.cloud_user;
    std::ifstream in(run.push.cloud_password_file, std::ios::binary);
    if (!in) {
        return {ota::Status::storage_failed,
                "cannot read --cloud-password-file " + run.push.cloud_password_file};
    }
    std::getline(in, out.mqtt.password);
    while (!out.mqtt.password.empty() && out.mqtt.password.back() == '\r') {
        out.mqtt.password.pop_back();
    }
    if (out.mqtt.password.empty()) {
        return {ota::Status::invalid_argument,
                "--cloud-password-file " + run.push.cloud_password_file + " is empty"};
    }
    out.push_url = run.push.url;
    out.push_file = run.push.file;
    out.push_version = run.push.version;
    out.push_rate = run.push.rate_per_s;
    out.push_when = run.push.when;
    return {};
}

Outcome cloud_outcome(const CloudRecord& r, std::string_view push_version) {
    if (!r.first_inform_at) return Outcome::connect_failed;
    if (!r.push_at) return Outcome::no_job;
    if (r.last_inform_at && r.last_version == push_version) return Outcome::updated;
    if (r.last_step && *r.last_step < 0) {
        switch (*r.last_step) {
            case ota::kStepCheckFailed:
                return Outcome::digest_mismatch;
            case ota::kStepBurnFailed:
                return Outcome::storage_failed;
            default:
                return Outcome::download_failed;
        }
    }
    if (r.reached_100_at) {
        if (r.last_inform_at && *r.last_inform_at > *r.reached_100_at) {
            return Outcome::rolled_back;
        }
        return Outcome::never_returned;
    }
    return Outcome::stopped;
}

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kYieldSlice{10};
// QoS 1 publishes in flight at once (paho's own limit, maxInflight, is 65535).
constexpr std::size_t kPublishers = 32;
constexpr double kMaxPushRate = 100000.0;

}  // namespace

struct FleetCloud::Impl final : ota::ChannelListener {
    FleetCloudOptions options;
    std::vector<CloudDevice> devices;
    std::unordered_map<std::string, std::size_t> index_of;  // "pk/dn" -> device index

    std::unique_ptr<ota::PahoChannel> channel;
    std::string push_payload;
    std::thread thread;                   // yields the channel
    std::vector<std::thread> publishers;  // publish the pushes and get_replies
    std::atomic<bool> stopping{false};
    std::condition_variable work;  // with mu: a push or a get_reply was queued, or stopping
    bool started = false;

    mutable std::mutex mu;  // guards everything below
    std::vector<CloudRecord> records;
    std::vector<bool> queued;  // a push is queued or sent
    std::deque<std::size_t> push_queue;
    Clock::time_point next_push;  // the pacing deadline (push_rate > 0)
    CloudCounts counts;
    // Devices whose firmware/get is to be answered: at most one entry per device (the flag says
    // it is queued), so a device that floods firmware/get cannot grow the queue.
    std::deque<std::size_t> get_answers;
    std::vector<bool> get_pending;
    bool push_on_report = false;  // push_reported() was called: push each device on its report

    std::optional<std::size_t> find(std::string_view pk, std::string_view dn) const {
        std::string key;
        key.reserve(pk.size() + dn.size() + 1);
        key.append(pk).append("/").append(dn);
        const auto it = index_of.find(key);
        if (it == index_of.end()) return std::nullopt;
        return it->second;
    }

    void queue_push_locked(std::size_t i) {
        if (queued[i]) return;
        queued[i] = true;
        push_queue.push_back(i);
    }

    void on_message(std::string_view topic, std::string_view payload) override {
        record(topic, payload);
        work.notify_all();
    }

    void record(std::string_view topic, std::string_view payload) {
        const auto now = Clock::now();
        // The console's strict decoder (tools/common): a message it refuses records nothing.
        const ota_tools::DecodeResult decoded = ota_tools::decode_device_message(topic, payload);
        if (!decoded.message) return;
        const ota_tools::DeviceMessage& m = *decoded.message;
        const auto index = find(m.device.product_key, m.device.device_name);
        if (!index) return;  // not one of ours (another run on the same broker)
        std::lock_guard<std::mutex> lock(mu);
        CloudRecord& r = records[*index];
        switch (m.kind) {
            case ota_tools::DeviceMessageKind::inform: {
                ++r.informs;
                if (!r.first_inform_at) {
                    r.first_inform_at = now;
                    r.first_version = m.version;
                    ++counts.informed;
                    if (options.push_when == PushWhen::connected || push_on_report) {
                        queue_push_locked(*index);
                    }
                    if (options.push_when == PushWhen::all_connected &&
                        counts.informed == devices.size()) {
                        for (std::size_t i = 0; i < devices.size(); ++i) queue_push_locked(i);
                    }
                }
                if (r.push_at) {
                    const bool was_updated = r.last_version == options.push_version;
                    r.last_inform_at = now;
                    r.last_version = m.version;
                    const bool is_updated = r.last_version == options.push_version;
                    if (is_updated && !was_updated) ++counts.updated;
                    if (!is_updated && was_updated) --counts.updated;
                }
                break;
            }
            case ota_tools::DeviceMessageKind::progress: {
                if (!r.push_at) return;  // not about our job
                ++r.progresses;
                if (!r.first_progress_at) r.first_progress_at = now;
                const bool was_failed = r.last_step && *r.last_step < 0;
                r.last_step = m.step;
                if (m.step == ota::kStepMax && !r.reached_100) {
                    r.reached_100 = true;
                    r.reached_100_at = now;
                }
                if (m.step < 0) {
                    r.failure_step = m.step;
                    r.failure_desc = m.desc;
                }
                const bool is_failed = m.step < 0;
                if (is_failed && !was_failed) ++counts.failed;
                if (!is_failed && was_failed) --counts.failed;
                break;
            }
            case ota_tools::DeviceMessageKind::firmware_get:
                ++r.gets;
                if (options.answer_firmware_get && r.push_at && !get_pending[*index]) {
                    get_pending[*index] = true;
                    get_answers.push_back(*index);
                }
                break;
            case ota_tools::DeviceMessageKind::block_request:
                break;  // not subscribed (the fleet's cloud serves no MQTT downloads)
        }
    }

    void publish_push(std::size_t i, bool is_get_reply) {
        const CloudDevice& d = devices[i];
        const ota::Topics topics = ota::make_topics(d.product_key, d.device_name);
        if (!is_get_reply) {
            std::lock_guard<std::mutex> lock(mu);
            records[i].push_at = Clock::now();
            ++counts.pushed;
        }
        // A failed publish (broker gone) is left to the device's job timeout: the record shows
        // a push without any progress, which the cloud's view reports.
        (void)channel->publish(is_get_reply ? topics.get_reply : topics.upgrade, push_payload, 1);
    }

    // The yielding thread: delivers the channel's events to on_message().
    void run() {
        while (!stopping.load()) (void)channel->yield(kYieldSlice);
    }

    // A publisher thread: get_replies first, then the due pushes, one at a time.
    void publish_loop() {
        const auto interval = options.push_rate > 0
                                  ? std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(1.0 / options.push_rate))
                                  : Clock::duration::zero();
        std::unique_lock<std::mutex> lock(mu);
        while (!stopping.load()) {
            if (!get_answers.empty()) {
                const std::size_t i = get_answers.front();
                get_answers.pop_front();
                get_pending[i] = false;
                lock.unlock();
                publish_push(i, true);
                lock.lock();
                continue;
            }
            if (push_queue.empty()) {
                work.wait(lock);
                continue;
            }
            const auto now = Clock::now();
            if (interval.count() > 0 && now < next_push) {
                work.wait_until(lock, next_push);
                continue;
            }
            const std::size_t i = push_queue.front();
            push_queue.pop_front();
            // After an idle spell the deadline restarts from now: no burst of "owed" pushes.
            if (interval.count() > 0) next_push = std::max(next_push, now - interval) + interval;
            lock.unlock();
            publish_push(i, false);
            lock.lock();
        }
    }
};

FleetCloud::FleetCloud(FleetCloudOptions options, std::vector<CloudDevice> devices)
    : impl_(std::make_unique<Impl>()) {
    impl_->options = std::move(options);
    impl_->devices = std::move(devices);
    impl_->records.resize(impl_->devices.size());
    impl_->queued.assign(impl_->devices.size(), false);
    impl_->get_pending.assign(impl_->devices.size(), false);
    for (std::size_t i = 0; i < impl_->devices.size(); ++i) {
        const auto& d = impl_->devices[i];
        impl_->index_of.emplace(d.product_key + "/" + d.device_name, i);
    }
}

FleetCloud::~FleetCloud() {
    stop();
}

ota::Error FleetCloud::start() {
    Impl& m = *impl_;
    if (m.started) return {ota::Status::invalid_state, "the cloud is already started"};
    const FleetCloudOptions& o = m.options;
    if (o.push_url.empty()) return {ota::Status::invalid_argument, "--push-url is required"};
    if (o.push_version.empty() || o.push_version.size() > ota::kMaxVersionLength) {
        return {ota::Status::invalid_argument, "--push-version needs 1 to 64 characters"};
    }
    if (!(o.push_rate >= 0 && o.push_rate <= kMaxPushRate)) {
        return {ota::Status::invalid_argument, "--push-rate must be 0..100000 per second"};
    }
    if (m.devices.empty()) return {ota::Status::invalid_argument, "no devices to push to"};
    ota::UpgradeJob job;
    job.version = o.push_version;
    job.url = o.push_url;
    job.digest.algorithm = o.sign_method;
    if (ota::Error e =
            ota::tools::digest_file(o.push_file, o.sign_method, job.size, job.digest.hex);
        !e.ok()) {
        return {e.status, "--push-file: " + e.detail};
    }
    const auto id = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch() /
                                               std::chrono::milliseconds(1));
    m.push_payload = ota::encode_upgrade_push(job, id);

    ota::MqttOptions mo = o.mqtt;
    if (mo.client_id.empty()) mo.client_id = "ota-fleet-cloud-" + std::to_string(::getpid());
    mo.clean_session = true;
    mo.max_queued_messages = ota::MqttOptions::kMaxQueuedMessagesLimit;
    m.channel = std::make_unique<ota::PahoChannel>(std::move(mo));
    m.channel->add_listener(m);
    if (ota::Error e = m.channel->connect(); !e.ok()) {
        m.channel.reset();
        return {e.status, "cloud: " + e.message()};
    }
    for (const char* filter : {"/ota/device/inform/+/+", "/ota/device/progress/+/+",
                               "/sys/+/+/thing/ota/firmware/get"}) {
        if (const ota::Status s = m.channel->subscribe(filter, 1); s != ota::Status::ok) {
            m.channel->disconnect();
            m.channel.reset();
            return {s, std::string("cloud: cannot subscribe ") + filter};
        }
    }
    m.started = true;
    m.next_push = Clock::now();
    m.thread = std::thread([&m] { m.run(); });
    for (std::size_t i = 0; i < kPublishers; ++i) {
        m.publishers.emplace_back([&m] { m.publish_loop(); });
    }
    return {};
}

void FleetCloud::push_all() {
    {
        std::lock_guard<std::mutex> lock(impl_->mu);
        for (std::size_t i = 0; i < impl_->devices.size(); ++i) impl_->queue_push_locked(i);
    }
    impl_->work.notify_all();
}

std::size_t FleetCloud::push_reported() {
    std::size_t n = 0;
    {
        std::lock_guard<std::mutex> lock(impl_->mu);
        impl_->push_on_report = true;
        for (std::size_t i = 0; i < impl_->devices.size(); ++i) {
            if (!impl_->records[i].first_inform_at) continue;
            impl_->queue_push_locked(i);
            ++n;
        }
    }
    impl_->work.notify_all();
    return n;
}

void FleetCloud::stop() noexcept {
    Impl& m = *impl_;
    {
        // Under the lock: a publisher between its check of `stopping` and its wait would
        // otherwise miss the notification.
        std::lock_guard<std::mutex> lock(m.mu);
        m.stopping.store(true);
    }
    m.work.notify_all();
    for (auto& t : m.publishers) {
        if (t.joinable()) t.join();
    }
    m.publishers.clear();
    if (m.thread.joinable()) m.thread.join();
    if (m.channel) {
        m.channel->disconnect();
        m.channel->remove_listener(m);
    }
}

std::vector<CloudRecord> FleetCloud::records() const {
    std::lock_guard<std::mutex> lock(impl_->mu);
    return impl_->records;
}

CloudCounts FleetCloud::counts() const {
    std::lock_guard<std::mutex> lock(impl_->mu);
    return impl_->counts;
}

const std::string& FleetCloud::push_version() const noexcept {
    return impl_->options.push_version;
}

}  // namespace ota::fleet
