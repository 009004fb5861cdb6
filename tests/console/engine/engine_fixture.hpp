// The engine tests' fixture: a fake clock, a publisher that records, a store from a factory.
//
// Why a factory list: every engine test runs on each store in store_factories() (the fake
// MemoryStore, and the real SQLite store once it exists), so the fake cannot hide a difference.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "model/json.hpp"
#include "support/memory_store.hpp"

namespace console::test {

/// A wall clock the test moves by hand.
class FakeClock : public WallClock {
  public:
    [[nodiscard]] Millis now() const override { return t; }
    void advance_s(std::int64_t s) { t += s * 1000; }
    Millis t = 1'800'000'000'000;
};

/// Records every publish; `connected = false` makes publish() fail.
class RecordingPublisher : public Publisher {
  public:
    struct Message {
        std::string topic;
        std::string payload;
        Millis at;
    };
    explicit RecordingPublisher(const FakeClock& clock) : clock_(clock) {}
    bool publish(const std::string& topic, const std::string& payload) override {
        if (!connected) return false;
        sent.push_back({topic, payload, clock_.now()});
        return true;
    }
    /// The device names pushed to, in order, from message `from` on.
    [[nodiscard]] std::vector<std::string> devices(std::size_t from = 0) const {
        std::vector<std::string> out;
        for (std::size_t i = from; i < sent.size(); ++i) {
            out.push_back(sent[i].topic.substr(sent[i].topic.rfind('/') + 1));
        }
        return out;
    }
    std::vector<Message> sent;
    bool connected = true;

  private:
    const FakeClock& clock_;
};

/// Makes an empty store of one kind; `dir` is an empty directory of the test's own.
struct StoreFactory {
    std::string name;
    std::function<std::unique_ptr<Store>(const std::string& dir)> make;
};

/// A fresh directory under the test temp dir, removed at the end.
class TempDir {
  public:
    TempDir() {
        static int counter = 0;
        path_ = std::filesystem::path(::testing::TempDir()) /
                ("ota_engine_" + std::to_string(::getpid()) + "_" + std::to_string(++counter));
        std::filesystem::remove_all(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] std::string str() const { return path_.string(); }

  private:
    std::filesystem::path path_;
};

/// gtest prints a parameter by its name.
inline void PrintTo(const StoreFactory& f, std::ostream* os) {
    *os << f.name;
}

/// Every store the engine suite runs on. Add a line here for another store.
inline std::vector<StoreFactory> store_factories() {
    return {
        {"Memory", [](const std::string&) { return std::unique_ptr<Store>(new MemoryStore()); }},
        {"Sqlite", [](const std::string& dir) { return open_store(dir + "/data", ""); }},
    };
}

inline constexpr const char* kPk = "pk1";

/// "d00", "d01", ...
inline std::string dn(int i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "d%02d", i);
    return buf;
}

class EngineTest : public ::testing::TestWithParam<StoreFactory> {
  protected:
    void SetUp() override {
        store = GetParam().make(dir.str());
        restart();
    }
    /// A new Engine on the same store (what a restarted console does).
    void restart() {
        engine = std::make_unique<Engine>(
            *store, clock, publisher, [](const Firmware& f) { return "https://files/" + f.sha256; },
            options);
    }
    Firmware add_firmware(const std::string& version, bool verified = true,
                          const std::string& module = kDefaultModule) {
        Firmware f;
        f.product_key = kPk;
        f.module = module;
        f.version = version;
        f.size = 1234;
        f.md5 = std::string(32, 'a');
        f.sha256 = std::string(64, 'b');
        f.verified = verified;
        f.created_at = clock.t;
        f.id = store->add_firmware(f);
        return f;
    }
    /// Registers devices d<from>..d<from+n-1> at `version` of the default module.
    void add_devices(int from, int n, const std::string& version,
                     const std::vector<std::string>& tags = {}) {
        for (int i = from; i < from + n; ++i) {
            Device d;
            d.key = {kPk, dn(i)};
            d.tags = tags;
            if (!version.empty()) d.versions[kDefaultModule] = version;
            d.created_at = clock.t;
            store->add_device(d);
        }
    }
    /// A normal rollout of `f` to the whole product with the given phases.
    Rollout spec(const Firmware& f, std::vector<Phase> phases = {}) {
        Rollout r;
        r.firmware_id = f.id;
        r.phases = std::move(phases);
        r.policy.task_timeout_s = 60;
        r.policy.retry_count = 0;
        return r;
    }
    /// The newest task of a device (any rollout).
    Task task(const std::string& name) {
        TaskFilter filter;
        filter.device = DeviceKey{kPk, name};
        const std::vector<Task> all = store->tasks(filter, Page{0, 1000});
        EXPECT_FALSE(all.empty()) << name;
        return all.empty() ? Task{} : all.back();
    }
    std::vector<Task> tasks_of(std::int64_t rollout_id) {
        TaskFilter filter;
        filter.rollout_id = rollout_id;
        return store->tasks(filter, Page{0, 100000});
    }
    Rollout rollout(std::int64_t id) { return store->rollout(id).value(); }
    bool progress(const std::string& name, int step, const std::string& desc = "") {
        return engine->on_progress({kPk, name}, kDefaultModule, step, desc);
    }
    bool inform(const std::string& name, const std::string& version) {
        return engine->on_inform({kPk, name}, kDefaultModule, version);
    }
    /// A device that downloads and installs `version`.
    void upgrade(const std::string& name, const std::string& version) {
        EXPECT_TRUE(progress(name, 0));
        EXPECT_TRUE(progress(name, 100));
        EXPECT_TRUE(inform(name, version));
    }
    /// Number of tasks of the rollout in `state`.
    std::int64_t count(std::int64_t rollout_id, TaskState state) {
        std::int64_t n = 0;
        for (const auto& [key, c] : store->task_counts(rollout_id)) {
            if (key.second == state) n += c;
        }
        return n;
    }

    TempDir dir;  // before the store: removed after it is closed
    FakeClock clock;
    RecordingPublisher publisher{clock};
    EngineOptions options;
    std::unique_ptr<Store> store;
    std::unique_ptr<Engine> engine;
};

inline std::string factory_name(const ::testing::TestParamInfo<StoreFactory>& info) {
    return info.param.name;
}

}  // namespace console::test
