// The HTTP tests' fixture: a real ApiServer on a random 127.0.0.1 port with its generated
// self-signed certificate, over a store (a MemoryStore made thread-safe, or with
// OTA_HTTP_TEST_SQLITE the real SQLite store in the data dir), a fake clock and the engine; a
// client that verifies the certificate; and a dump of everything stored, to show that a refused
// request changed nothing.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "http/api_server.hpp"
#include "http/url_signer.hpp"
#include "model/json.hpp"
#include "support/memory_store.hpp"

namespace console::test {

/// A fake wall clock the test moves by hand.
class FakeClock : public WallClock {
  public:
    Millis now() const override { return now_; }
    void advance(Millis ms) { now_ += ms; }
    void set(Millis ms) { now_ = ms; }

  private:
    std::atomic<Millis> now_{1'700'000'000'000};
};

/// Records what the engine publishes.
class RecordingPublisher : public Publisher {
  public:
    bool publish(const std::string& topic, const std::string& payload) override {
        const std::lock_guard<std::mutex> lock(mutex);
        messages.emplace_back(topic, payload);
        return true;
    }
    std::mutex mutex;
    std::vector<std::pair<std::string, std::string>> messages;
};

/// MemoryStore behind one recursive mutex, as the SQL stores are (the HTTP threads, the events
/// stream and the test call it at once).
class LockedStore : public MemoryStore {
  public:
    using Lock = std::lock_guard<std::recursive_mutex>;
    void transaction(const std::function<void()>& fn) override {
        Lock l(m_);
        MemoryStore::transaction(fn);
    }
    std::int64_t add_firmware(const Firmware& f) override {
        Lock l(m_);
        return MemoryStore::add_firmware(f);
    }
    std::optional<Firmware> firmware(std::int64_t id) override {
        Lock l(m_);
        return MemoryStore::firmware(id);
    }
    std::vector<Firmware> list_firmware(const std::string& pk, Page p) override {
        Lock l(m_);
        return MemoryStore::list_firmware(pk, p);
    }
    void set_firmware_verified(std::int64_t id, bool v) override {
        Lock l(m_);
        MemoryStore::set_firmware_verified(id, v);
    }
    bool add_device(const Device& d) override {
        Lock l(m_);
        return MemoryStore::add_device(d);
    }
    std::optional<Device> device(const DeviceKey& k) override {
        Lock l(m_);
        return MemoryStore::device(k);
    }
    std::vector<Device> list_devices(const DeviceFilter& f, const std::optional<DeviceKey>& a,
                                     std::size_t n) override {
        Lock l(m_);
        return MemoryStore::list_devices(f, a, n);
    }
    std::vector<Device> devices_of_product(const std::string& pk) override {
        Lock l(m_);
        return MemoryStore::devices_of_product(pk);
    }
    void set_device_version(const DeviceKey& k, const std::string& m, const std::string& v,
                            Millis at) override {
        Lock l(m_);
        MemoryStore::set_device_version(k, m, v, at);
    }
    void touch_device(const DeviceKey& k, Millis at) override {
        Lock l(m_);
        MemoryStore::touch_device(k, at);
    }
    void set_device_tags(const DeviceKey& k, const std::vector<std::string>& t) override {
        Lock l(m_);
        MemoryStore::set_device_tags(k, t);
    }
    std::map<std::string, std::int64_t> version_distribution(const std::string& pk,
                                                             const std::string& m) override {
        Lock l(m_);
        return MemoryStore::version_distribution(pk, m);
    }
    std::int64_t add_rollout(const Rollout& r) override {
        Lock l(m_);
        return MemoryStore::add_rollout(r);
    }
    void update_rollout(const Rollout& r) override {
        Lock l(m_);
        MemoryStore::update_rollout(r);
    }
    std::optional<Rollout> rollout(std::int64_t id) override {
        Lock l(m_);
        return MemoryStore::rollout(id);
    }
    std::vector<Rollout> list_rollouts(Page p) override {
        Lock l(m_);
        return MemoryStore::list_rollouts(p);
    }
    std::vector<Rollout> active_rollouts() override {
        Lock l(m_);
        return MemoryStore::active_rollouts();
    }
    void add_tasks(std::vector<Task>& t) override {
        Lock l(m_);
        MemoryStore::add_tasks(t);
    }
    void update_task(const Task& t) override {
        Lock l(m_);
        MemoryStore::update_task(t);
    }
    std::optional<Task> task(std::int64_t id) override {
        Lock l(m_);
        return MemoryStore::task(id);
    }
    std::vector<Task> tasks(const TaskFilter& f, Page p) override {
        Lock l(m_);
        return MemoryStore::tasks(f, p);
    }
    std::optional<Task> open_task(const DeviceKey& k, const std::string& m) override {
        Lock l(m_);
        return MemoryStore::open_task(k, m);
    }
    std::vector<Task> due_queued(std::int64_t r, Millis now, std::size_t n) override {
        Lock l(m_);
        return MemoryStore::due_queued(r, now, n);
    }
    std::vector<Task> expired(Millis now, std::size_t n) override {
        Lock l(m_);
        return MemoryStore::expired(now, n);
    }
    TaskCounts task_counts(std::int64_t r) override {
        Lock l(m_);
        return MemoryStore::task_counts(r);
    }
    std::int64_t append_event(Event& e) override {
        Lock l(m_);
        return MemoryStore::append_event(e);
    }
    std::vector<Event> events_after(std::int64_t seq, std::size_t n) override {
        Lock l(m_);
        return MemoryStore::events_after(seq, n);
    }
    void prune_events(Millis before) override {
        Lock l(m_);
        MemoryStore::prune_events(before);
    }
    std::vector<Task> device_tasks(const DeviceKey& k, std::size_t n) override {
        Lock l(m_);
        ++device_tasks_calls;
        return MemoryStore::device_tasks(k, n);
    }
    std::int64_t last_event_seq() override {
        Lock l(m_);
        return MemoryStore::last_event_seq();
    }
    std::string shared_secret(const std::string& name,
                              const std::function<std::string()>& make) override {
        Lock l(m_);
        return MemoryStore::shared_secret(name, make);
    }
    /// How often the device page's query ran (it must not page through all tasks instead).
    std::atomic<int> device_tasks_calls{0};

  private:
    std::recursive_mutex m_;
};

inline constexpr const char* kToken = "0123456789abcdef0123456789abcdef-test-token";

/// Everything a store holds plus the stored files, as JSON, for before/after comparisons.
inline nlohmann::json dump(Store& store, const std::string& data_dir) {
    using nlohmann::json;
    json out;
    for (const auto& f : store.list_firmware("", Page{0, 100000})) {
        out["firmware"].push_back(to_json(f));
    }
    for (const auto& d :
         store.list_devices(DeviceFilter{"", "", "", std::nullopt, 0, ""}, std::nullopt, 100000)) {
        out["devices"].push_back(to_json(d, 0));
    }
    for (const auto& r : store.list_rollouts(Page{0, 100000}))
        out["rollouts"].push_back(to_json(r));
    for (const auto& t : store.tasks(TaskFilter{}, Page{0, 100000}))
        out["tasks"].push_back(to_json(t));
    for (const auto& e : store.events_after(0, 100000)) out["events"].push_back(e.json);
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(data_dir + "/files", ec)) {
        out["files"].push_back(entry.path().string());
    }
    return out;
}

/// A started ApiServer and a client for it.
class ApiFixture : public ::testing::Test {
  protected:
    void SetUp() override {
        char dir[] = "/tmp/ota_console_http_XXXXXX";
        ASSERT_NE(::mkdtemp(dir), nullptr);
        data_dir_ = dir;
        options_.port = 0;
        options_.token = kToken;
        options_.data_dir = data_dir_;
        options_.sse_ping_ms = 300;
#ifdef OTA_HTTP_TEST_SQLITE
        store_ = open_store(data_dir_, "");
#else
        store_ = std::make_unique<LockedStore>();
#endif
        customize(options_);
        signer_ = std::make_shared<UrlSigner>(data_dir_, clock_, options_.url_ttl_ms,
                                              options_.public_base_url);
        options_.url_signer = signer_;
        engine_ = std::make_unique<Engine>(
            *store_, clock_, publisher_,
            [signer = signer_](const Firmware& f) { return signer->url_for(f); });
        server_ = std::make_unique<ApiServer>(*store_, *engine_, metrics_, clock_, options_);
        server_->start();
    }
    void TearDown() override {
        if (server_) server_->stop();
        server_.reset();
        engine_.reset();
        store_.reset();
        std::error_code ec;
        std::filesystem::remove_all(data_dir_, ec);
    }
    /// Lets a test change the options before the server starts.
    virtual void customize(HttpOptions&) {}

    /// A client that verifies the server's certificate and sends the token.
    std::unique_ptr<httplib::SSLClient> client(bool with_token = true) {
        auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", server_->port());
        c->set_ca_cert_path(server_->tls_cert_file().c_str());
        c->enable_server_certificate_verification(true);
        c->set_connection_timeout(5);
        c->set_read_timeout(10);
        if (with_token) c->set_bearer_token_auth(kToken);
        return c;
    }
    /// A client of the files server (signed downloads; no token).
    std::unique_ptr<httplib::SSLClient> files_client() {
        auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", server_->files_port());
        c->set_ca_cert_path(server_->tls_cert_file().c_str());
        c->enable_server_certificate_verification(true);
        c->set_connection_timeout(5);
        c->set_read_timeout(10);
        return c;
    }
    static nlohmann::json body_of(const httplib::Result& r) {
        return nlohmann::json::parse(r->body, nullptr, false);
    }
    nlohmann::json snapshot() {
        return dump(*store_, data_dir_);
    }

    /// Uploads `image` as a firmware; returns the answer.
    httplib::Result upload(const std::string& image, const std::string& query) {
        return client()->Post(("/api/v1/firmware?" + query).c_str(), image,
                              "application/octet-stream");
    }

    std::string data_dir_;
    FakeClock clock_;
    std::unique_ptr<Store> store_;
    RecordingPublisher publisher_;
    Metrics metrics_;
    HttpOptions options_;
    std::shared_ptr<UrlSigner> signer_;
    std::unique_ptr<Engine> engine_;
    std::unique_ptr<ApiServer> server_;
};

/// Expects an error answer with `status` and `code` whose message contains `mention`.
#define EXPECT_API_ERROR(result, want_status, want_code, mention)                        \
    do {                                                                                 \
        const auto& r_ = (result);                                                       \
        ASSERT_TRUE(r_) << "no answer";                                                  \
        EXPECT_EQ(r_->status, want_status) << r_->body;                                  \
        const auto j_ = nlohmann::json::parse(r_->body, nullptr, false);                 \
        ASSERT_TRUE(j_.is_object()) << r_->body;                                         \
        EXPECT_EQ(j_.value("code", ""), want_code) << r_->body;                          \
        EXPECT_NE(j_.value("message", "").find(mention), std::string::npos) << r_->body; \
    } while (false)

}  // namespace console::test
