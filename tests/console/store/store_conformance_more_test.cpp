// More cases of the Store conformance suite (same fixture and backends as
// store_conformance_test.cpp): a device's task history, the last event seq, shared settings.
//
// Why a second file: the first one is near the size limit; both are compiled into the same
// conformance object library, so every backend runs every case of both.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "store/sql_store.hpp"
#include "store/store_env.hpp"
#include "store/store_samples.hpp"

namespace console::test {

TEST_P(StoreTest, DeviceTasksNewestFirstAcrossRolloutsAndModules) {
    const std::int64_t r1 = new_rollout();
    const std::int64_t r2 = new_rollout();
    std::vector<Task> tasks{make_task(r1, "d1", TaskState::failed), make_task(r1, "d2"),
                            make_task(r2, "d1", TaskState::succeeded), make_task(r2, "d1")};
    tasks.push_back(make_task(r2, "d1", TaskState::notified));
    tasks.back().module = "wifi";
    tasks.push_back(make_task(r1, "d1"));
    tasks.back().device.product_key = "pk2";  // same name, other product
    store_->add_tasks(tasks);
    const DeviceKey d1{"pk1", "d1"};
    EXPECT_EQ(ids(store_->device_tasks(d1, 100)),
              (std::vector<std::int64_t>{tasks[4].id, tasks[3].id, tasks[2].id, tasks[0].id}));
    EXPECT_EQ(ids(store_->device_tasks(d1, 2)),
              (std::vector<std::int64_t>{tasks[4].id, tasks[3].id}));
    EXPECT_EQ(dump(store_->device_tasks(d1, 1).at(0)), dump(tasks[4]));
    EXPECT_EQ(ids(store_->device_tasks({"pk2", "d1"}, 100)),
              (std::vector<std::int64_t>{tasks[5].id}));
    EXPECT_TRUE(store_->device_tasks(d1, 0).empty());
    EXPECT_TRUE(store_->device_tasks({"pk1", "nobody"}, 100).empty());
}

TEST_P(StoreTest, LastEventSeqIsTheHighestStored) {
    EXPECT_EQ(store_->last_event_seq(), 0);
    std::int64_t last = 0;
    for (int i = 0; i < 3; ++i) {
        Event e{0, 1000 + i, "task", 1, "{}"};
        last = store_->append_event(e);
        EXPECT_EQ(store_->last_event_seq(), last);
    }
    // A rolled-back event is not counted.
    EXPECT_THROW(store_->transaction([&] {
        Event e{0, 2000, "task", 1, "{}"};
        store_->append_event(e);
        throw std::runtime_error("rolled back");
    }),
                 std::runtime_error);
    EXPECT_EQ(store_->last_event_seq(), last);
    // Every event committed later comes after it.
    Event later{0, 3000, "rollout", 1, "{}"};
    store_->append_event(later);
    const auto after = store_->events_after(last, 100);
    ASSERT_EQ(after.size(), 1U);
    EXPECT_EQ(after[0].seq, later.seq);
    EXPECT_EQ(store_->last_event_seq(), later.seq);
}

TEST_P(StoreTest, SharedSecretIsMadeOnceAndKept) {
    int made = 0;
    const auto make = [&](const std::string& v) {
        return [&made, v] {
            ++made;
            return v;
        };
    };
    EXPECT_EQ(store_->shared_secret("url-key", make("first")), "first");
    EXPECT_EQ(made, 1);
    EXPECT_EQ(store_->shared_secret("url-key", make("second")), "first");
    EXPECT_EQ(made, 1);  // not made again
    EXPECT_EQ(store_->shared_secret("other", make("o")), "o");
    EXPECT_EQ(store_->shared_secret("url-key", make("third")), "first");

    try {
        (void)store_->shared_secret("", make("x"));
        FAIL() << "an empty name was accepted";
    } catch (const ApiError& e) {
        EXPECT_EQ(e.http_status(), 400);
    }
    // An empty value is refused and nothing is stored: the next call makes one.
    EXPECT_THROW((void)store_->shared_secret("empty", make("")), std::runtime_error);
    EXPECT_EQ(store_->shared_secret("empty", make("now")), "now");
    // A failing make() stores nothing either.
    EXPECT_THROW((void)store_->shared_secret(
                     "boom", []() -> std::string { throw std::runtime_error("no entropy"); }),
                 std::runtime_error);
    EXPECT_EQ(store_->shared_secret("boom", make("ok")), "ok");

    if (env_->raw()) {  // persistent: survives a restart
        store_.reset();
        store_ = env_->open();
        EXPECT_EQ(store_->shared_secret("url-key", make("after restart")), "first");
    }
}

// Console processes starting at once on one database: all must end up with the same secret.
// Each thread has its own connection (SQLite: a second connection besides the data directory's
// store, as a second process would have; PostgreSQL: a second console).
TEST_P(StoreTest, SharedSecretRacingConnectionsAgree) {
    if (!env_->raw()) {
        GTEST_SKIP() << "one in-process fake has no second connection";
    }
    constexpr int kConnections = 4;
    constexpr int kRounds = 10;
    std::vector<std::unique_ptr<Store>> stores;
    for (int i = 0; i < kConnections; ++i) stores.push_back(sql::make_sql_store(env_->raw()));
    for (int round = 0; round < kRounds; ++round) {
        const std::string name = "secret-" + std::to_string(round);
        std::vector<std::string> got(kConnections);
        std::atomic<int> ready{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < kConnections; ++i) {
            threads.emplace_back([&, i] {
                ++ready;
                while (ready.load() < kConnections) std::this_thread::yield();
                try {
                    got[static_cast<std::size_t>(i)] =
                        stores[static_cast<std::size_t>(i)]->shared_secret(
                            name, [i] { return "made-by-" + std::to_string(i); });
                } catch (const std::exception& e) {
                    ADD_FAILURE() << "connection " << i << ": " << e.what();
                }
            });
        }
        for (auto& t : threads) t.join();
        for (const std::string& g : got) EXPECT_EQ(g, got[0]) << name;
        EXPECT_EQ(store_->shared_secret(name, [] { return std::string("late"); }), got[0]);
    }
}

}  // namespace console::test
