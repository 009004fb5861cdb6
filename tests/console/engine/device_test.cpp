// Engine tests of the device side and the scheduler's timing: progress, version reports,
// negative steps, rollbacks, late and duplicate messages, firmware/get, dynamic joins, push
// rate, timeouts (from the push and from the first progress), retries, failed publishes, and
// the fixed number of store calls per device message.
#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "engine_fixture.hpp"

namespace console::test {
namespace {

using nlohmann::json;

class DeviceTest : public EngineTest {
  protected:
    /// One started rollout of 2.0 over `n` devices at 1.0.
    Rollout start(int n, std::uint32_t retry_count = 0, std::uint32_t retry_interval_s = 60) {
        fw = add_firmware("2.0");
        add_devices(0, n, "1.0");
        Rollout s = spec(fw);
        s.policy.retry_count = retry_count;
        s.policy.retry_interval_s = retry_interval_s;
        const Rollout r = engine->create_rollout(s);
        engine->tick();
        return r;
    }
    Firmware fw;
};

TEST_P(DeviceTest, PushPayloadHasThePlatformsFields) {
    Firmware f = add_firmware("2.0", true, "wifi");
    f.ext_data = R"({"signature":{"alg":"x"}})";
    const json j = json::parse(push_payload(f, "https://u/x?sig=1", 42));
    EXPECT_EQ(j.at("code"), "1000");
    EXPECT_EQ(j.at("id"), 42);
    EXPECT_EQ(j.at("message"), "success");
    const json& d = j.at("data");
    EXPECT_EQ(d.at("size"), 1234);
    EXPECT_EQ(d.at("version"), "2.0");
    EXPECT_EQ(d.at("url"), "https://u/x?sig=1");
    EXPECT_EQ(d.at("md5"), f.md5);
    EXPECT_EQ(d.at("sign"), f.sha256);
    EXPECT_EQ(d.at("signMethod"), "SHA256");
    EXPECT_EQ(d.at("module"), "wifi");
    EXPECT_EQ(d.at("extData").at("signature").at("alg"), "x");
    f.module = kDefaultModule;
    f.sign_method = "Md5";
    f.ext_data.clear();
    const json k = json::parse(push_payload(f, "u", 1)).at("data");
    EXPECT_EQ(k.at("sign"), f.md5);
    EXPECT_EQ(k.at("signMethod"), "Md5");
    EXPECT_FALSE(k.contains("module"));
    EXPECT_FALSE(k.contains("extData"));
}

TEST_P(DeviceTest, PushIsWrittenBeforeItIsPublished) {
    fw = add_firmware("2.0");
    add_devices(0, 1, "1.0");
    engine->create_rollout(spec(fw));
    // A publisher that looks into the store when it is called.
    struct Peek : Publisher {
        Store* store = nullptr;
        TaskState seen = TaskState::queued;
        bool publish(const std::string&, const std::string&) override {
            seen = store->open_task({kPk, dn(0)}, kDefaultModule)->state;
            return true;
        }
    } peek;
    peek.store = store.get();
    Engine e(*store, clock, peek, [](const Firmware&) { return std::string("u"); });
    e.tick();
    EXPECT_EQ(peek.seen, TaskState::notified);
}

TEST_P(DeviceTest, TaskGoesThroughItsStates) {
    const Rollout r = start(1);
    Task t = task(dn(0));
    EXPECT_EQ(t.state, TaskState::notified);
    EXPECT_EQ(t.attempt, 1u);
    EXPECT_EQ(t.deadline_at, clock.t + 60'000);
    EXPECT_EQ(t.from_version, "1.0");
    const json push = json::parse(publisher.sent.at(0).payload);
    EXPECT_EQ(publisher.sent.at(0).topic, "/ota/device/upgrade/pk1/d00");
    EXPECT_EQ(push.at("data").at("url"), "https://files/" + fw.sha256);
    clock.advance_s(10);
    EXPECT_TRUE(progress(dn(0), 0));
    t = task(dn(0));
    EXPECT_EQ(t.state, TaskState::in_progress);
    EXPECT_EQ(t.first_progress_at, clock.t);
    EXPECT_EQ(t.deadline_at, clock.t + 60'000);  // restarted by the first progress
    EXPECT_TRUE(progress(dn(0), 100));
    t = task(dn(0));
    EXPECT_TRUE(t.downloaded);
    EXPECT_EQ(t.state, TaskState::in_progress);  // step 100 alone is not success
    EXPECT_TRUE(inform(dn(0), "2.0"));
    t = task(dn(0));
    EXPECT_EQ(t.state, TaskState::succeeded);
    EXPECT_TRUE(t.reason.empty());
    EXPECT_EQ(store->device({kPk, dn(0)})->versions.at(kDefaultModule), "2.0");
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::completed);
}

TEST_P(DeviceTest, TargetVersionWithoutDownloadReportSucceeds) {
    start(1);
    EXPECT_TRUE(inform(dn(0), "2.0"));
    const Task t = task(dn(0));
    EXPECT_EQ(t.state, TaskState::succeeded);
    EXPECT_EQ(t.reason, "already at the version: no download (reported after the push)");
}

TEST_P(DeviceTest, OldVersionBeforeDownloadIsOnlyARecordedReport) {
    start(1);
    EXPECT_TRUE(progress(dn(0), 40));
    EXPECT_TRUE(inform(dn(0), "1.0"));  // a reconnect mid-download
    EXPECT_EQ(task(dn(0)).state, TaskState::in_progress);
}

TEST_P(DeviceTest, RolledBackAfterDownloadFails) {
    start(1);
    EXPECT_TRUE(progress(dn(0), 100));
    EXPECT_TRUE(inform(dn(0), "1.0"));
    const Task t = task(dn(0));
    EXPECT_EQ(t.state, TaskState::failed);
    EXPECT_EQ(t.reason, "rolled back to 1.0");
    EXPECT_EQ(t.finished_at, clock.t);
}

TEST_P(DeviceTest, NegativeStepsFailWithTheirReason) {
    start(5);
    EXPECT_TRUE(progress(dn(0), -1));
    EXPECT_TRUE(progress(dn(1), -2, "HTTP 404"));
    EXPECT_TRUE(progress(dn(2), 50));
    EXPECT_TRUE(progress(dn(2), -3, "sha256 mismatch"));
    EXPECT_TRUE(progress(dn(3), -4));
    EXPECT_FALSE(progress(dn(4), -5));  // outside -4..100: refused
    EXPECT_FALSE(progress(dn(4), 101));
    EXPECT_EQ(task(dn(0)).reason, "upgrade failed");
    EXPECT_EQ(task(dn(1)).reason, "download failed: HTTP 404");
    EXPECT_EQ(task(dn(2)).reason, "digest check failed: sha256 mismatch");
    EXPECT_EQ(task(dn(3)).reason, "flash write failed");
    for (int i = 0; i < 4; ++i) EXPECT_EQ(task(dn(i)).state, TaskState::failed);
    EXPECT_EQ(task(dn(4)).state, TaskState::notified);
}

TEST_P(DeviceTest, LateAndDuplicateMessagesChangeNothing) {
    start(2);
    upgrade(dn(0), "2.0");
    const Task done = task(dn(0));
    const std::size_t events = store->events_after(0, 100000).size();
    clock.advance_s(5);
    EXPECT_FALSE(progress(dn(0), -2));
    EXPECT_FALSE(progress(dn(0), 100));
    EXPECT_TRUE(inform(dn(0), "2.0"));  // recorded as the device's report, the task stays
    EXPECT_TRUE(inform(dn(0), "1.0"));
    const Task after = task(dn(0));
    EXPECT_EQ(after.state, TaskState::succeeded);
    EXPECT_EQ(after.updated_at, done.updated_at);
    EXPECT_EQ(store->events_after(0, 100000).size(), events);
    // a duplicate progress writes nothing either
    EXPECT_TRUE(progress(dn(1), 50));
    const Task p = task(dn(1));
    clock.advance_s(1);
    EXPECT_TRUE(progress(dn(1), 50));
    EXPECT_EQ(task(dn(1)).updated_at, p.updated_at);
    // unregistered devices: ignored, nothing stored
    EXPECT_FALSE(engine->on_progress({kPk, "ghost"}, kDefaultModule, 10, ""));
    EXPECT_FALSE(engine->on_inform({kPk, "ghost"}, kDefaultModule, "2.0"));
    EXPECT_FALSE(store->device({kPk, "ghost"}).has_value());
}

TEST_P(DeviceTest, ProgressEventsAreThrottled) {
    start(1);
    const std::size_t before = store->events_after(0, 100000).size();
    for (int step : {0, 3, 5, 8, 12, 15, 25, 26, 100}) EXPECT_TRUE(progress(dn(0), step));
    // events: 0 (state change), 12, 25, 100
    EXPECT_EQ(store->events_after(0, 100000).size() - before, 4u);
    EXPECT_EQ(task(dn(0)).last_step, 100);
}

TEST_P(DeviceTest, EveryStateChangeIsAnEvent) {
    const Rollout r = start(1);
    upgrade(dn(0), "2.0");
    engine->tick();
    std::vector<std::string> task_states;
    std::vector<std::string> rollout_states;
    for (const Event& e : store->events_after(0, 1000)) {
        const json j = json::parse(e.json);
        EXPECT_EQ(e.rollout_id, r.id);
        if (e.type == "task") task_states.push_back(j.at("state"));
        if (e.type == "rollout") rollout_states.push_back(j.at("state"));
    }
    EXPECT_EQ(task_states, (std::vector<std::string>{"queued", "notified", "in_progress",
                                                     "in_progress", "succeeded"}));
    EXPECT_EQ(rollout_states, (std::vector<std::string>{"scheduled", "running", "completed"}));
}

TEST_P(DeviceTest, TimeoutFromThePush) {
    start(1);
    clock.advance_s(59);
    engine->tick();
    EXPECT_EQ(task(dn(0)).state, TaskState::notified);
    clock.advance_s(1);
    engine->tick();
    const Task t = task(dn(0));
    EXPECT_EQ(t.state, TaskState::timed_out);
    EXPECT_NE(t.reason.find("of the push"), std::string::npos) << t.reason;
}

TEST_P(DeviceTest, TimeoutFromTheFirstProgress) {
    start(1);
    clock.advance_s(50);
    EXPECT_TRUE(progress(dn(0), 1));
    clock.advance_s(40);
    EXPECT_TRUE(progress(dn(0), 60));  // later progress does not move the deadline
    engine->tick();
    EXPECT_EQ(task(dn(0)).state, TaskState::in_progress);
    clock.advance_s(19);
    engine->tick();
    EXPECT_EQ(task(dn(0)).state, TaskState::in_progress);
    clock.advance_s(1);
    engine->tick();
    const Task t = task(dn(0));
    EXPECT_EQ(t.state, TaskState::timed_out);
    EXPECT_NE(t.reason.find("last step 60"), std::string::npos) << t.reason;
}

TEST_P(DeviceTest, RetriesCountTimesInterval) {
    const Rollout r = start(1, /*retry_count=*/2, /*retry_interval_s=*/30);
    std::vector<Millis> pushes{clock.t};
    for (int second = 1; second <= 300; ++second) {
        clock.advance_s(1);
        engine->tick();
        if (publisher.sent.size() > pushes.size()) {
            pushes.push_back(clock.t);
            EXPECT_TRUE(progress(dn(0), -2, "try " + std::to_string(pushes.size())));
        }
        if (second == 1) {
            EXPECT_TRUE(progress(dn(0), -2, "try 1"));
        }
    }
    ASSERT_EQ(pushes.size(), 3u);              // 1 + 2 retries
    EXPECT_EQ(pushes[1] - pushes[0], 31'000);  // failed at +1 s, queued for 30 s
    EXPECT_EQ(pushes[2] - pushes[1], 30'000);
    const Task t = task(dn(0));
    EXPECT_EQ(t.state, TaskState::failed);
    EXPECT_EQ(t.attempt, 3u);
    EXPECT_EQ(t.reason, "download failed: try 3");
    EXPECT_EQ(rollout(r.id).state, RolloutState::paused);  // abort gate: 1 > 0 failures
}

TEST_P(DeviceTest, TimeoutsAreRetriedToo) {
    start(1, /*retry_count=*/1, /*retry_interval_s=*/10);
    clock.advance_s(60);
    engine->tick();
    EXPECT_EQ(task(dn(0)).state, TaskState::queued);
    clock.advance_s(10);
    engine->tick();
    EXPECT_EQ(task(dn(0)).state, TaskState::notified);
    EXPECT_EQ(publisher.sent.size(), 2u);
    clock.advance_s(60);
    engine->tick();
    EXPECT_EQ(task(dn(0)).state, TaskState::timed_out);
}

TEST_P(DeviceTest, PushRatePerMinute) {
    fw = add_firmware("2.0");
    add_devices(0, 30, "1.0");
    Rollout s = spec(fw);
    s.policy.push_rate_per_minute = 10;
    s.policy.task_timeout_s = 3600;
    const Millis t0 = clock.t;
    engine->create_rollout(s);
    for (int second = 0; second < 200; ++second) {
        engine->tick();
        clock.advance_s(1);
    }
    ASSERT_EQ(publisher.sent.size(), 30u);
    for (const auto& m : publisher.sent) {
        std::size_t in_window = 0;
        for (const auto& o : publisher.sent) {
            if (o.at > m.at - 60'000 && o.at <= m.at) ++in_window;
        }
        EXPECT_LE(in_window, 10u);
    }
    EXPECT_EQ(publisher.sent.at(9).at, t0);
    EXPECT_EQ(publisher.sent.at(10).at, t0 + 60'000);
    EXPECT_EQ(publisher.sent.at(29).at, t0 + 120'000);
}

TEST_P(DeviceTest, PushRateHoldsAcrossARestart) {
    fw = add_firmware("2.0");
    add_devices(0, 6, "1.0");
    Rollout s = spec(fw);
    s.policy.push_rate_per_minute = 2;
    s.policy.task_timeout_s = 3600;
    engine->create_rollout(s);
    engine->tick();
    EXPECT_EQ(publisher.sent.size(), 2u);
    restart();  // a console started again within the minute
    clock.advance_s(30);
    engine->tick();
    EXPECT_EQ(publisher.sent.size(), 2u);
    clock.advance_s(30);
    engine->tick();
    EXPECT_EQ(publisher.sent.size(), 4u);
}

TEST_P(DeviceTest, MaxPushesPerTick) {
    options.max_pushes_per_tick = 3;
    restart();
    start(7);
    EXPECT_EQ(publisher.sent.size(), 3u);
    engine->tick();
    EXPECT_EQ(publisher.sent.size(), 6u);
    engine->tick();
    EXPECT_EQ(publisher.sent.size(), 7u);
}

TEST_P(DeviceTest, FailedPublishRequeuesWithoutCountingTheAttempt) {
    publisher.connected = false;
    start(2);
    Task t = task(dn(0));
    EXPECT_EQ(t.state, TaskState::queued);
    EXPECT_EQ(t.attempt, 0u);
    publisher.connected = true;
    engine->tick();
    EXPECT_TRUE(publisher.sent.empty());  // "shortly later", not at once
    clock.advance_s(5);
    engine->tick();
    EXPECT_EQ(publisher.sent.size(), 2u);
    EXPECT_EQ(task(dn(0)).attempt, 1u);
}

TEST_P(DeviceTest, TickPublishesWithoutHoldingTheEngine) {
    fw = add_firmware("2.0");
    add_devices(0, 1, "1.0");
    engine->create_rollout(spec(fw));
    // A publish that waits (as for a PUBACK) while another thread brings a device message. The
    // thread is joined after tick() returns, so an engine that holds its lock here makes the
    // test fail after 2 s instead of hanging.
    struct Slow : Publisher {
        Engine* engine = nullptr;
        std::thread other;
        std::atomic<bool> done{false};
        bool applied_meanwhile = false;
        bool publish(const std::string&, const std::string&) override {
            other = std::thread([this] {
                (void)engine->on_progress({kPk, dn(0)}, kDefaultModule, 10, "");
                done = true;
            });
            for (int i = 0; i < 200 && !done; ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            applied_meanwhile = done;
            return true;
        }
    } slow;
    Engine e(*store, clock, slow, [](const Firmware&) { return std::string("u"); });
    slow.engine = &e;
    e.tick();
    if (slow.other.joinable()) slow.other.join();
    EXPECT_TRUE(slow.applied_meanwhile);
    EXPECT_EQ(task(dn(0)).state, TaskState::in_progress);
}

TEST_P(DeviceTest, FailedPublishKeepsWhatHappenedMeanwhile) {
    fw = add_firmware("2.0");
    add_devices(0, 2, "1.0");
    const Rollout r = engine->create_rollout(spec(fw));
    // The device answers (its firmware/get found the job) before the publish reports failure.
    struct Racing : Publisher {
        Engine* engine = nullptr;
        bool publish(const std::string& topic, const std::string&) override {
            const std::string name = topic.substr(topic.rfind('/') + 1);
            (void)engine->on_progress({kPk, name}, kDefaultModule, 0, "");
            return false;
        }
    } racing;
    Engine e(*store, clock, racing, [](const Firmware&) { return std::string("u"); });
    racing.engine = &e;
    e.tick();
    EXPECT_EQ(task(dn(0)).state, TaskState::in_progress);  // not overwritten by a stale copy
    EXPECT_EQ(task(dn(0)).attempt, 1u);
    EXPECT_EQ(task(dn(1)).state, TaskState::queued);  // never published, still notified: back
    EXPECT_EQ(task(dn(1)).attempt, 0u);
    EXPECT_EQ(rollout(r.id).state, RolloutState::running);
}

TEST_P(DeviceTest, ACancelDuringAFailedPublishStillEnds) {
    fw = add_firmware("2.0");
    add_devices(0, 1, "1.0");
    const Rollout r = engine->create_rollout(spec(fw));
    // The operator cancels while the push is on its way; then the publish fails.
    struct Canceling : Publisher {
        Engine* engine = nullptr;
        std::int64_t id = 0;
        bool publish(const std::string&, const std::string&) override {
            (void)engine->cancel(id);
            return false;
        }
    } canceling;
    Engine e(*store, clock, canceling, [](const Firmware&) { return std::string("u"); });
    canceling.engine = &e;
    canceling.id = r.id;
    e.tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::canceling);
    EXPECT_EQ(task(dn(0)).state, TaskState::queued);  // re-queued: the push never left
    e.tick();
    EXPECT_EQ(task(dn(0)).state, TaskState::canceled);
    EXPECT_EQ(rollout(r.id).state, RolloutState::canceled);
}

TEST_P(DeviceTest, DynamicJoinsFillThePhasesInOrder) {
    fw = add_firmware("2.0");
    Rollout s = spec(fw);
    s.dynamic = true;
    s.selection.source_versions = {"1.0"};
    Phase two;
    two.devices = 2;
    Phase one;
    one.devices = 1;
    s.phases = {two, one, Phase{}};
    const Rollout r = engine->create_rollout(s);
    engine->tick();
    engine->tick();
    // Started with no device: the empty first phase waits for joins instead of passing.
    EXPECT_EQ(rollout(r.id).current_phase, 0u);
    add_devices(0, 5, "");
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(inform(dn(i), "1.0"));
    EXPECT_EQ(task(dn(0)).phase, 0u);
    EXPECT_EQ(task(dn(1)).phase, 0u);
    EXPECT_EQ(task(dn(2)).phase, 1u);
    EXPECT_EQ(task(dn(3)).phase, 2u);
    EXPECT_EQ(task(dn(4)).phase, 2u);
    engine->tick();
    EXPECT_EQ(publisher.devices(), (std::vector<std::string>{dn(0), dn(1)}));
    upgrade(dn(0), "2.0");
    upgrade(dn(1), "2.0");
    engine->tick();
    EXPECT_EQ(rollout(r.id).current_phase, 1u);
    EXPECT_EQ(publisher.devices().back(), dn(2));
    EXPECT_EQ(publisher.sent.size(), 3u);
}

TEST_P(DeviceTest, FirmwareGet) {
    fw = add_firmware("2.0");
    add_devices(0, 3, "1.0");
    const json empty = json::parse(engine->on_firmware_get({kPk, dn(0)}, kDefaultModule, "7"));
    EXPECT_EQ(empty.at("code"), "1000");
    EXPECT_EQ(empty.at("id"), "7");
    EXPECT_EQ(empty.at("message"), "success");
    EXPECT_TRUE(empty.at("data").empty());
    Rollout s = spec(fw);
    s.policy.push_rate_per_minute = 1;
    const Rollout r = engine->create_rollout(s);
    engine->tick();  // pushes dn(0); the rate holds back the others
    json j = json::parse(engine->on_firmware_get({kPk, dn(0)}, kDefaultModule, "8"));
    EXPECT_EQ(j.at("id"), "8");
    EXPECT_EQ(j.at("data").at("version"), "2.0");
    EXPECT_EQ(task(dn(0)).attempt, 1u);  // asking again is not a new attempt
    // dn(1) is due but rate-limited: its request waits like a push would
    j = json::parse(engine->on_firmware_get({kPk, dn(1)}, kDefaultModule, "9"));
    EXPECT_TRUE(j.at("data").empty());
    clock.advance_s(60);
    j = json::parse(engine->on_firmware_get({kPk, dn(1)}, kDefaultModule, "10"));
    EXPECT_EQ(j.at("data").at("version"), "2.0");
    EXPECT_EQ(task(dn(1)).state, TaskState::notified);
    EXPECT_EQ(task(dn(1)).attempt, 1u);
    engine->pause(r.id);
    clock.advance_s(60);
    j = json::parse(engine->on_firmware_get({kPk, dn(2)}, kDefaultModule, "11"));
    EXPECT_TRUE(j.at("data").empty());  // paused: no new job
    j = json::parse(engine->on_firmware_get({kPk, "ghost"}, kDefaultModule, "12"));
    EXPECT_TRUE(j.at("data").empty());
}

TEST_P(DeviceTest, DynamicRolloutTakesDevicesThatReportLater) {
    fw = add_firmware("2.0");
    add_devices(0, 2, "1.0");
    Rollout s = spec(fw);
    s.dynamic = true;
    s.selection.source_versions = {"1.0"};
    const Rollout r = engine->create_rollout(s);
    Rollout st = spec(add_firmware("3.0"));
    st.selection.source_versions = {"0.9"};
    const Rollout static_r = engine->create_rollout(st);  // static: takes nobody later
    engine->tick();
    EXPECT_EQ(tasks_of(r.id).size(), 2u);
    upgrade(dn(0), "2.0");
    upgrade(dn(1), "2.0");
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::running);  // dynamic: stays open
    add_devices(2, 3, "");                                  // registered later, report on connect
    EXPECT_TRUE(inform(dn(2), "1.0"));
    EXPECT_TRUE(inform(dn(3), "1.1"));  // does not match
    EXPECT_TRUE(inform(dn(4), "0.9"));  // matches only the static rollout
    EXPECT_EQ(tasks_of(r.id).size(), 3u);
    EXPECT_EQ(task(dn(2)).rollout_id, r.id);
    EXPECT_EQ(task(dn(2)).phase, 0u);
    EXPECT_TRUE(tasks_of(static_r.id).empty());
    engine->tick();
    EXPECT_EQ(publisher.devices().back(), dn(2));
    // a device that failed in the rollout is not taken again by its next report
    EXPECT_TRUE(progress(dn(2), 100));
    EXPECT_TRUE(inform(dn(2), "1.0"));  // rolled back
    EXPECT_TRUE(inform(dn(2), "1.0"));
    EXPECT_EQ(tasks_of(r.id).size(), 3u);
    engine->cancel(r.id);
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::canceled);
}

/// Forwards to a store and counts the calls that walk many records.
class CountingStore : public Store {
  public:
    explicit CountingStore(Store& s) : s_(s) {}
    void transaction(const std::function<void()>& fn) override { s_.transaction(fn); }
    std::int64_t add_firmware(const Firmware& f) override { return s_.add_firmware(f); }
    std::optional<Firmware> firmware(std::int64_t id) override { return s_.firmware(id); }
    std::vector<Firmware> list_firmware(const std::string& pk, Page p) override {
        ++scans;
        return s_.list_firmware(pk, p);
    }
    void set_firmware_verified(std::int64_t id, bool v) override {
        s_.set_firmware_verified(id, v);
    }
    bool add_device(const Device& d) override { return s_.add_device(d); }
    std::optional<Device> device(const DeviceKey& k) override {
        ++calls;
        return s_.device(k);
    }
    std::vector<Device> list_devices(const DeviceFilter& f, const std::optional<DeviceKey>& a,
                                     std::size_t l) override {
        ++scans;
        return s_.list_devices(f, a, l);
    }
    std::vector<Device> devices_of_product(const std::string& pk) override {
        ++scans;
        return s_.devices_of_product(pk);
    }
    void set_device_version(const DeviceKey& k, const std::string& m, const std::string& v,
                            Millis at) override {
        s_.set_device_version(k, m, v, at);
    }
    void touch_device(const DeviceKey& k, Millis at) override {
        ++calls;
        ++touches;
        s_.touch_device(k, at);
    }
    void set_device_tags(const DeviceKey& k, const std::vector<std::string>& t) override {
        s_.set_device_tags(k, t);
    }
    std::map<std::string, std::int64_t> version_distribution(const std::string& pk,
                                                             const std::string& m) override {
        ++scans;
        return s_.version_distribution(pk, m);
    }
    std::int64_t add_rollout(const Rollout& r) override { return s_.add_rollout(r); }
    void update_rollout(const Rollout& r) override { s_.update_rollout(r); }
    std::optional<Rollout> rollout(std::int64_t id) override {
        ++calls;
        return s_.rollout(id);
    }
    std::vector<Rollout> list_rollouts(Page p) override {
        ++scans;
        return s_.list_rollouts(p);
    }
    std::vector<Rollout> active_rollouts() override {
        ++scans;
        return s_.active_rollouts();
    }
    void add_tasks(std::vector<Task>& t) override { s_.add_tasks(t); }
    void update_task(const Task& t) override {
        ++calls;
        s_.update_task(t);
    }
    std::optional<Task> task(std::int64_t id) override { return s_.task(id); }
    std::vector<Task> tasks(const TaskFilter& f, Page p) override {
        ++scans;
        return s_.tasks(f, p);
    }
    std::optional<Task> open_task(const DeviceKey& k, const std::string& m) override {
        ++calls;
        return s_.open_task(k, m);
    }
    std::vector<Task> due_queued(std::int64_t r, Millis now, std::size_t l) override {
        ++scans;
        return s_.due_queued(r, now, l);
    }
    std::vector<Task> expired(Millis now, std::size_t l) override {
        ++scans;
        return s_.expired(now, l);
    }
    TaskCounts task_counts(std::int64_t r) override {
        ++scans;
        return s_.task_counts(r);
    }
    std::int64_t append_event(Event& e) override {
        ++calls;
        return s_.append_event(e);
    }
    std::vector<Event> events_after(std::int64_t seq, std::size_t l) override {
        return s_.events_after(seq, l);
    }
    void prune_events(Millis before) override { s_.prune_events(before); }
    std::vector<Task> device_tasks(const DeviceKey& k, std::size_t l) override {
        return s_.device_tasks(k, l);
    }
    std::int64_t last_event_seq() override { return s_.last_event_seq(); }
    std::string shared_secret(const std::string& n,
                              const std::function<std::string()>& make) override {
        return s_.shared_secret(n, make);
    }
    bool try_become_scheduler() override { return s_.try_become_scheduler(); }
    const char* kind() const noexcept override { return s_.kind(); }

    int scans = 0;
    int calls = 0;  ///< device, rollout, open_task, update_task, append_event, touch_device
    int touches = 0;

  private:
    Store& s_;
};

TEST_P(DeviceTest, DeviceMessagesOfATaskWalkNoRecords) {
    const Rollout r = start(50);
    CountingStore counting(*store);
    Engine e(counting, clock, publisher, [](const Firmware&) { return std::string("u"); });
    for (int i = 0; i < 50; ++i) {
        const DeviceKey key{kPk, dn(i)};
        EXPECT_TRUE(e.on_progress(key, kDefaultModule, 0, ""));
        EXPECT_TRUE(e.on_progress(key, kDefaultModule, 100, ""));
        (void)e.on_firmware_get(key, kDefaultModule, "1");
        EXPECT_TRUE(e.on_inform(key, kDefaultModule, i % 2 == 0 ? "2.0" : "1.0"));
    }
    EXPECT_EQ(counting.scans, 0);
    EXPECT_EQ(count(r.id, TaskState::succeeded), 25);
    EXPECT_EQ(count(r.id, TaskState::failed), 25);  // rolled back
}

TEST_P(DeviceTest, AProgressThatChangesNothingVisibleCostsOneRead) {
    start(1);
    CountingStore counting(*store);
    Engine e(counting, clock, publisher, [](const Firmware&) { return std::string("u"); });
    EXPECT_TRUE(e.on_progress({kPk, dn(0)}, kDefaultModule, 0, ""));  // first: written
    EXPECT_EQ(counting.touches, 1);
    const Task first = task(dn(0));
    counting.calls = 0;
    clock.advance_s(1);
    for (int step = 1; step <= 9; ++step) {
        EXPECT_TRUE(e.on_progress({kPk, dn(0)}, kDefaultModule, step, ""));
    }
    EXPECT_EQ(counting.calls, 9);  // open_task only: no write, no event, no touch
    EXPECT_EQ(task(dn(0)).updated_at, first.updated_at);
    EXPECT_EQ(task(dn(0)).last_step, 0);
    EXPECT_TRUE(e.on_progress({kPk, dn(0)}, kDefaultModule, 10, ""));  // a move of 10: written
    EXPECT_EQ(task(dn(0)).last_step, 10);
    EXPECT_EQ(counting.touches, 1);
    clock.advance_s(30);  // last_seen_at is written again after touch_interval_ms
    EXPECT_TRUE(e.on_progress({kPk, dn(0)}, kDefaultModule, 11, ""));
    EXPECT_EQ(counting.touches, 2);
    EXPECT_EQ(store->device({kPk, dn(0)})->last_seen_at, clock.t);
}

INSTANTIATE_TEST_SUITE_P(Stores, DeviceTest, ::testing::ValuesIn(store_factories()), factory_name);

}  // namespace
}  // namespace console::test
