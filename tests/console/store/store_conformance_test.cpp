// The Store conformance suite: every method of store.hpp, the same expectations for the fake
// MemoryStore, the SQLite store and the PostgreSQL store.
//
// Why one value-parameterised suite: the engine's tests run on the fake and the console runs on the
// real stores; these cases are what makes "the fake agrees with the real stores" a checked fact.
// The backends are instantiated elsewhere (store_unit_test.cpp: memory + SQLite, label unit;
// store_pg_test.cpp: PostgreSQL, label integration).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "store/store_env.hpp"
#include "store/store_samples.hpp"

namespace console::test {

std::int64_t StoreTest::new_rollout() {
    if (fw_ == 0) fw_ = store_->add_firmware(make_firmware("pk1", "2.0.0"));
    return store_->add_rollout(make_rollout(fw_));
}

TEST_P(StoreTest, FirmwareRoundTripAndDuplicateConflict) {
    Firmware f = make_firmware("pk1", "1.0.0");
    f.id = store_->add_firmware(f);
    EXPECT_GT(f.id, 0);
    ASSERT_TRUE(store_->firmware(f.id));
    EXPECT_EQ(dump(*store_->firmware(f.id)), dump(f));
    EXPECT_FALSE(store_->firmware(f.id + 1000));

    try {
        (void)store_->add_firmware(make_firmware("pk1", "1.0.0"));
        FAIL() << "duplicate accepted";
    } catch (const ApiError& e) {
        EXPECT_EQ(e.http_status(), 409);
        EXPECT_EQ(e.code(), "conflict");
    }
    // Same version in another module or product is another firmware.
    EXPECT_GT(store_->add_firmware(make_firmware("pk1", "1.0.0", "wifi")), f.id);
    EXPECT_GT(store_->add_firmware(make_firmware("pk2", "1.0.0")), f.id);
    EXPECT_EQ(store_->list_firmware("", {0, 100}).size(), 3U);

    store_->set_firmware_verified(f.id, false);
    EXPECT_FALSE(store_->firmware(f.id)->verified);
    store_->set_firmware_verified(f.id, true);
    EXPECT_TRUE(store_->firmware(f.id)->verified);
    try {
        store_->set_firmware_verified(f.id + 1000, true);
        FAIL() << "unknown id accepted";
    } catch (const ApiError& e) {
        EXPECT_EQ(e.http_status(), 404);
    }
}

TEST_P(StoreTest, ListFirmwarePagesByIdAndFiltersByProduct) {
    std::vector<std::int64_t> all, pk1;
    for (int i = 0; i < 5; ++i) {
        const std::string pk = i % 2 == 0 ? "pk1" : "pk2";
        all.push_back(store_->add_firmware(make_firmware(pk, "1.0." + std::to_string(i))));
        if (pk == "pk1") pk1.push_back(all.back());
    }
    const auto first = store_->list_firmware("", {0, 2});
    EXPECT_EQ(ids(first), (std::vector<std::int64_t>{all[0], all[1]}));
    const auto second = store_->list_firmware("", {first.back().id, 2});
    EXPECT_EQ(ids(second), (std::vector<std::int64_t>{all[2], all[3]}));
    EXPECT_EQ(ids(store_->list_firmware("", {second.back().id, 2})),
              (std::vector<std::int64_t>{all[4]}));
    EXPECT_TRUE(store_->list_firmware("", {all[4], 2}).empty());
    EXPECT_EQ(ids(store_->list_firmware("pk1", {0, 100})), pk1);
    EXPECT_EQ(ids(store_->list_firmware("pk1", {pk1[0], 1})), (std::vector<std::int64_t>{pk1[1]}));
    EXPECT_TRUE(store_->list_firmware("nope", {0, 100}).empty());
    EXPECT_TRUE(store_->list_firmware("", {0, 0}).empty());
}

TEST_P(StoreTest, DeviceRoundTripAndRegisteredOnce) {
    Device d = make_device("pk1", "dev-1");
    d.tags = {"b", "a", "b"};
    d.versions = {{"default", "1.0.0"}, {"wifi", "0.9"}};
    d.last_seen_at = 1'700'000'000'777;
    EXPECT_TRUE(store_->add_device(d));
    d.tags = {"a", "b"};  // read back sorted, without duplicates
    ASSERT_TRUE(store_->device(d.key));
    EXPECT_EQ(dump(*store_->device(d.key)), dump(d));

    Device again = make_device("pk1", "dev-1");
    again.tags = {"z"};
    EXPECT_FALSE(store_->add_device(again));
    EXPECT_EQ(dump(*store_->device(d.key)), dump(d));  // unchanged
    EXPECT_FALSE(store_->device({"pk1", "dev-2"}));
    EXPECT_FALSE(store_->device({"pk2", "dev-1"}));
}

TEST_P(StoreTest, DeviceVersionTouchAndTags) {
    const DeviceKey key{"pk1", "d1"};
    ASSERT_TRUE(store_->add_device(make_device("pk1", "d1")));
    store_->set_device_version(key, "default", "1.0.0", 100);
    store_->set_device_version(key, "wifi", "3", 110);
    store_->set_device_version(key, "default", "1.1.0", 120);
    auto d = store_->device(key);
    EXPECT_EQ(d->versions,
              (std::map<std::string, std::string>{{"default", "1.1.0"}, {"wifi", "3"}}));
    EXPECT_EQ(d->last_seen_at, 120);
    store_->touch_device(key, 200);
    EXPECT_EQ(store_->device(key)->last_seen_at, 200);
    store_->set_device_tags(key, {"y", "x"});
    EXPECT_EQ(store_->device(key)->tags, (std::vector<std::string>{"x", "y"}));
    store_->set_device_tags(key, {});
    EXPECT_TRUE(store_->device(key)->tags.empty());

    // Unregistered devices: nothing happens, nothing is created.
    const DeviceKey ghost{"pk1", "ghost"};
    store_->set_device_version(ghost, "default", "9", 1);
    store_->touch_device(ghost, 1);
    store_->set_device_tags(ghost, {"t"});
    EXPECT_FALSE(store_->device(ghost));
    EXPECT_EQ(store_->devices_of_product("pk1").size(), 1U);
}

TEST_P(StoreTest, ListDevicesFiltersAndKeyCursor) {
    // Bytewise order: "B" < "Z" < "a" < "b".
    for (const char* dn : {"b", "Z", "a", "B"})
        ASSERT_TRUE(store_->add_device(make_device("pk1", dn)));
    ASSERT_TRUE(store_->add_device(make_device("pk0", "x")));
    ASSERT_TRUE(store_->add_device(make_device("pk2", "a")));
    store_->set_device_version({"pk1", "a"}, "default", "1.0", 1000);
    store_->set_device_version({"pk1", "b"}, "default", "2.0", 500);
    store_->set_device_version({"pk1", "b"}, "wifi", "1.0", 500);
    store_->set_device_version({"pk2", "a"}, "default", "1.0", 2000);
    store_->set_device_tags({"pk1", "Z"}, {"lab", "north"});
    store_->set_device_tags({"pk1", "a"}, {"lab"});

    DeviceFilter all;
    EXPECT_EQ(names(store_->list_devices(all, std::nullopt, 100)),
              (std::vector<std::string>{"pk0/x", "pk1/B", "pk1/Z", "pk1/a", "pk1/b", "pk2/a"}));
    // Cursor pages of two.
    const auto p1 = store_->list_devices(all, std::nullopt, 2);
    EXPECT_EQ(names(p1), (std::vector<std::string>{"pk0/x", "pk1/B"}));
    const auto p2 = store_->list_devices(all, p1.back().key, 2);
    EXPECT_EQ(names(p2), (std::vector<std::string>{"pk1/Z", "pk1/a"}));
    const auto p3 = store_->list_devices(all, p2.back().key, 2);
    EXPECT_EQ(names(p3), (std::vector<std::string>{"pk1/b", "pk2/a"}));
    EXPECT_TRUE(store_->list_devices(all, p3.back().key, 2).empty());
    EXPECT_TRUE(store_->list_devices(all, std::nullopt, 0).empty());

    DeviceFilter product;
    product.product_key = "pk1";
    EXPECT_EQ(names(store_->list_devices(product, DeviceKey{"pk1", "Z"}, 100)),
              (std::vector<std::string>{"pk1/a", "pk1/b"}));

    DeviceFilter version;
    version.version = "1.0";
    EXPECT_EQ(names(store_->list_devices(version, std::nullopt, 100)),
              (std::vector<std::string>{"pk1/a", "pk2/a"}));
    version.module = "wifi";
    EXPECT_EQ(names(store_->list_devices(version, std::nullopt, 100)),
              (std::vector<std::string>{"pk1/b"}));
    version.product_key = "pk2";
    EXPECT_TRUE(store_->list_devices(version, std::nullopt, 100).empty());

    DeviceFilter online;
    online.product_key = "pk1";
    online.online = true;
    online.online_since = 600;
    EXPECT_EQ(names(store_->list_devices(online, std::nullopt, 100)),
              (std::vector<std::string>{"pk1/a"}));
    online.online = false;  // never seen (0) counts as offline
    EXPECT_EQ(names(store_->list_devices(online, std::nullopt, 100)),
              (std::vector<std::string>{"pk1/B", "pk1/Z", "pk1/b"}));
    online.online_since = 500;  // the boundary is online
    EXPECT_EQ(names(store_->list_devices(online, std::nullopt, 100)),
              (std::vector<std::string>{"pk1/B", "pk1/Z"}));

    DeviceFilter tag;
    tag.tag = "lab";
    const auto tagged = store_->list_devices(tag, std::nullopt, 100);
    EXPECT_EQ(names(tagged), (std::vector<std::string>{"pk1/Z", "pk1/a"}));
    EXPECT_EQ(tagged[0].tags,
              (std::vector<std::string>{"lab", "north"}));  // all tags, not the match
    tag.tag = "north";
    EXPECT_EQ(names(store_->list_devices(tag, std::nullopt, 100)),
              (std::vector<std::string>{"pk1/Z"}));
    tag.version = "1.0";
    tag.tag = "lab";
    EXPECT_EQ(names(store_->list_devices(tag, std::nullopt, 100)),
              (std::vector<std::string>{"pk1/a"}));
    const auto with_versions = store_->list_devices(tag, std::nullopt, 100);
    EXPECT_EQ(with_versions.at(0).versions.at("default"), "1.0");
}

TEST_P(StoreTest, DevicesOfProductAndVersionDistribution) {
    for (const char* dn : {"c", "a", "b", "d"})
        ASSERT_TRUE(store_->add_device(make_device("pk1", dn)));
    ASSERT_TRUE(store_->add_device(make_device("pk2", "a")));
    store_->set_device_version({"pk1", "a"}, "default", "1.0", 1);
    store_->set_device_version({"pk1", "b"}, "default", "1.0", 1);
    store_->set_device_version({"pk1", "c"}, "default", "2.0", 1);
    store_->set_device_version({"pk1", "c"}, "wifi", "7", 1);
    store_->set_device_version({"pk2", "a"}, "default", "1.0", 1);
    const auto devs = store_->devices_of_product("pk1");
    EXPECT_EQ(names(devs), (std::vector<std::string>{"pk1/a", "pk1/b", "pk1/c", "pk1/d"}));
    EXPECT_EQ(devs[2].versions.at("wifi"), "7");
    EXPECT_EQ(store_->version_distribution("pk1", "default"),
              (std::map<std::string, std::int64_t>{{"", 1}, {"1.0", 2}, {"2.0", 1}}));
    EXPECT_EQ(store_->version_distribution("pk1", "wifi"),
              (std::map<std::string, std::int64_t>{{"", 3}, {"7", 1}}));
    EXPECT_TRUE(store_->version_distribution("pk9", "default").empty());
    EXPECT_TRUE(store_->devices_of_product("pk9").empty());
}

TEST_P(StoreTest, RolloutRoundTripUpdateListAndActive) {
    const std::int64_t fw = store_->add_firmware(make_firmware("pk1", "2.0.0"));
    Rollout r = make_rollout(fw);
    r.id = store_->add_rollout(r);
    ASSERT_TRUE(store_->rollout(r.id));
    EXPECT_EQ(dump(*store_->rollout(r.id)), dump(r));
    EXPECT_FALSE(store_->rollout(r.id + 1000));

    Rollout plain;  // defaults, no phases edited
    plain.firmware_id = fw;
    plain.phases = {Phase{}};
    plain.id = store_->add_rollout(plain);
    EXPECT_EQ(dump(*store_->rollout(plain.id)), dump(plain));

    r.state = RolloutState::paused;
    r.current_phase = 2;
    r.reason = "";
    r.phases.pop_back();
    r.selection.device_names.clear();
    r.policy.end_at = 0;
    r.updated_at = 99;
    store_->update_rollout(r);
    EXPECT_EQ(dump(*store_->rollout(r.id)), dump(r));
    Rollout ghost = r;
    ghost.id = r.id + 1000;
    EXPECT_THROW(store_->update_rollout(ghost), ApiError);

    std::vector<std::int64_t> made{r.id, plain.id};
    for (RolloutState s : {RolloutState::running, RolloutState::completed, RolloutState::canceling,
                           RolloutState::canceled, RolloutState::scheduled}) {
        Rollout x = make_rollout(fw);
        x.state = s;
        made.push_back(store_->add_rollout(x));
    }
    EXPECT_EQ(ids(store_->list_rollouts({0, 100})), made);
    EXPECT_EQ(ids(store_->list_rollouts({made[1], 2})),
              (std::vector<std::int64_t>{made[2], made[3]}));
    // paused, scheduled(plain), running, canceling, scheduled
    EXPECT_EQ(ids(store_->active_rollouts()),
              (std::vector<std::int64_t>{made[0], made[1], made[2], made[4], made[6]}));
}

TEST_P(StoreTest, TaskRoundTripUpdateAndListingFilters) {
    const std::int64_t r1 = new_rollout();
    const std::int64_t r2 = new_rollout();
    Task full = make_task(r1, "d0", TaskState::in_progress);
    full.module = "wifi";
    full.phase = 2;
    full.attempt = 3;
    full.from_version = "1.0.0";
    full.last_step = -4;
    full.downloaded = true;
    full.reason = "checksum 'bad'";
    full.queued_at = 1;
    full.notified_at = 2;
    full.first_progress_at = 3;
    full.deadline_at = 4;
    full.finished_at = 5;
    full.updated_at = 6;
    std::vector<Task> tasks{full, make_task(r1, "d1"), make_task(r1, "d2", TaskState::failed),
                            make_task(r2, "d1", TaskState::canceled), make_task(r1, "d3")};
    tasks[4].phase = 1;
    store_->add_tasks(tasks);
    for (std::size_t i = 1; i < tasks.size(); ++i) {
        EXPECT_GT(tasks[i].id, tasks[i - 1].id);
    }
    for (const Task& t : tasks) {
        EXPECT_EQ(dump(*store_->task(t.id)), dump(t));
    }
    EXPECT_FALSE(store_->task(tasks.back().id + 1000));

    Task u = tasks[1];
    u.state = TaskState::notified;
    u.attempt = 1;
    u.notified_at = 77;
    u.deadline_at = 88;
    store_->update_task(u);
    EXPECT_EQ(dump(*store_->task(u.id)), dump(u));
    Task ghost = u;
    ghost.id = tasks.back().id + 1000;
    EXPECT_THROW(store_->update_task(ghost), ApiError);

    TaskFilter by_rollout;
    by_rollout.rollout_id = r1;
    EXPECT_EQ(ids(store_->tasks(by_rollout, {0, 100})),
              (std::vector<std::int64_t>{tasks[0].id, tasks[1].id, tasks[2].id, tasks[4].id}));
    EXPECT_EQ(ids(store_->tasks(by_rollout, {tasks[1].id, 2})),
              (std::vector<std::int64_t>{tasks[2].id, tasks[4].id}));
    TaskFilter by_state = by_rollout;
    by_state.state = TaskState::failed;
    EXPECT_EQ(ids(store_->tasks(by_state, {0, 100})), (std::vector<std::int64_t>{tasks[2].id}));
    TaskFilter by_phase = by_rollout;
    by_phase.phase = 0;
    EXPECT_EQ(ids(store_->tasks(by_phase, {0, 100})),
              (std::vector<std::int64_t>{tasks[1].id, tasks[2].id}));
    by_phase.state = TaskState::notified;
    EXPECT_EQ(ids(store_->tasks(by_phase, {0, 100})), (std::vector<std::int64_t>{tasks[1].id}));
    TaskFilter by_device;
    by_device.device = DeviceKey{"pk1", "d1"};
    EXPECT_EQ(ids(store_->tasks(by_device, {0, 100})),
              (std::vector<std::int64_t>{tasks[1].id, tasks[3].id}));
    EXPECT_EQ(store_->tasks({}, {0, 100}).size(), 5U);
    EXPECT_EQ(ids(store_->tasks({}, {0, 1})), (std::vector<std::int64_t>{tasks[0].id}));
}

TEST_P(StoreTest, OpenTaskIsTheNonFinalOneOfThatModule) {
    const std::int64_t r = new_rollout();
    std::vector<Task> tasks{make_task(r, "d1", TaskState::succeeded),
                            make_task(r, "d1", TaskState::failed),
                            make_task(r, "d2", TaskState::in_progress)};
    tasks.push_back(make_task(r, "d1", TaskState::notified));
    tasks.back().module = "wifi";
    store_->add_tasks(tasks);
    EXPECT_FALSE(store_->open_task({"pk1", "d1"}, kDefaultModule));
    ASSERT_TRUE(store_->open_task({"pk1", "d1"}, "wifi"));
    EXPECT_EQ(store_->open_task({"pk1", "d1"}, "wifi")->id, tasks[3].id);
    EXPECT_EQ(store_->open_task({"pk1", "d2"}, kDefaultModule)->id, tasks[2].id);
    EXPECT_FALSE(store_->open_task({"pk2", "d2"}, kDefaultModule));
    for (TaskState s : kAllTaskStates) {
        Task t = tasks[2];
        t.state = s;
        store_->update_task(t);
        EXPECT_EQ(store_->open_task({"pk1", "d2"}, kDefaultModule).has_value(), !is_final(s))
            << to_string(s);
    }
}

TEST_P(StoreTest, DueQueuedOldestFirstWithLimit) {
    const std::int64_t r = new_rollout();
    const std::int64_t other = new_rollout();
    std::vector<Task> tasks;
    for (Millis at : {300, 100, 200, 100, 500}) {
        tasks.push_back(make_task(r, "d" + std::to_string(tasks.size())));
        tasks.back().queued_at = at;
    }
    tasks.push_back(make_task(r, "n", TaskState::notified));  // not queued
    tasks.push_back(make_task(other, "o"));                   // other rollout
    store_->add_tasks(tasks);
    EXPECT_EQ(ids(store_->due_queued(r, 300, 100)),
              (std::vector<std::int64_t>{tasks[1].id, tasks[3].id, tasks[2].id, tasks[0].id}));
    EXPECT_EQ(ids(store_->due_queued(r, 300, 2)),
              (std::vector<std::int64_t>{tasks[1].id, tasks[3].id}));
    EXPECT_TRUE(store_->due_queued(r, 99, 100).empty());
    EXPECT_EQ(store_->due_queued(r, 1000, 100).size(), 5U);
    EXPECT_EQ(ids(store_->due_queued(other, 0, 100)), (std::vector<std::int64_t>{tasks[6].id}));
}

TEST_P(StoreTest, ExpiredNotifiedOrInProgressPastDeadline) {
    const std::int64_t r = new_rollout();
    std::vector<Task> tasks{
        make_task(r, "a", TaskState::notified),  make_task(r, "b", TaskState::in_progress),
        make_task(r, "c", TaskState::notified),  make_task(r, "d", TaskState::queued),
        make_task(r, "e", TaskState::succeeded), make_task(r, "f", TaskState::in_progress)};
    const Millis deadlines[] = {100, 200, 300, 50, 50, 0};
    for (std::size_t i = 0; i < tasks.size(); ++i) tasks[i].deadline_at = deadlines[i];
    store_->add_tasks(tasks);
    EXPECT_EQ(ids(store_->expired(200, 100)),
              (std::vector<std::int64_t>{tasks[0].id, tasks[1].id}));
    EXPECT_EQ(ids(store_->expired(1000, 100)),
              (std::vector<std::int64_t>{tasks[0].id, tasks[1].id, tasks[2].id}));
    EXPECT_EQ(store_->expired(1000, 2).size(), 2U);
    EXPECT_TRUE(store_->expired(99, 100).empty());
}

TEST_P(StoreTest, TaskCountsPerPhaseAndState) {
    const std::int64_t r = new_rollout();
    const std::int64_t other = new_rollout();
    std::vector<Task> tasks{make_task(r, "a"), make_task(r, "b"),
                            make_task(r, "c", TaskState::failed), make_task(r, "d"),
                            make_task(other, "e")};
    tasks[3].phase = 1;
    store_->add_tasks(tasks);
    const TaskCounts expected{
        {{0, TaskState::queued}, 2}, {{0, TaskState::failed}, 1}, {{1, TaskState::queued}, 1}};
    EXPECT_EQ(store_->task_counts(r), expected);
    EXPECT_TRUE(store_->task_counts(other + 1000).empty());
}

TEST_P(StoreTest, EventsInSeqOrderPagedAndPruned) {
    std::vector<std::int64_t> seqs;
    for (int i = 0; i < 5; ++i) {
        Event e{0, 1000 + i, i % 2 == 0 ? "task" : "rollout", i,
                R"({"n":")" + std::to_string(i) + "\"}"};
        const std::int64_t seq = store_->append_event(e);
        EXPECT_EQ(e.seq, seq);
        if (!seqs.empty()) {
            EXPECT_GT(seq, seqs.back());
        }
        seqs.push_back(seq);
    }
    const auto all = store_->events_after(0, 100);
    ASSERT_EQ(all.size(), 5U);
    EXPECT_EQ(all[3].seq, seqs[3]);
    EXPECT_EQ(all[3].at, 1003);
    EXPECT_EQ(all[3].type, "rollout");
    EXPECT_EQ(all[3].rollout_id, 3);
    EXPECT_EQ(all[3].json, R"({"n":"3"})");
    const auto page = store_->events_after(seqs[1], 2);
    ASSERT_EQ(page.size(), 2U);
    EXPECT_EQ(page[0].seq, seqs[2]);
    EXPECT_EQ(page[1].seq, seqs[3]);
    store_->prune_events(1003);
    const auto left = store_->events_after(0, 100);
    ASSERT_EQ(left.size(), 2U);
    EXPECT_EQ(left[0].seq, seqs[3]);
    // Seqs never go back, even when every event was pruned (SSE clients resume by seq).
    store_->prune_events(1'000'000);
    EXPECT_TRUE(store_->events_after(0, 100).empty());
    Event later{0, 5000, "task", 0, "{}"};
    EXPECT_GT(store_->append_event(later), seqs.back());
}

TEST_P(StoreTest, TransactionRollsBackEverythingOnException) {
    const std::int64_t r = new_rollout();
    std::int64_t fw = 0;
    std::vector<Task> tasks{make_task(r, "t")};
    EXPECT_THROW(store_->transaction([&] {
        fw = store_->add_firmware(make_firmware("pk1", "9.9.9"));
        EXPECT_TRUE(store_->add_device(make_device("pk1", "tx")));
        store_->add_tasks(tasks);
        Event e{0, 1, "task", r, "{}"};
        store_->append_event(e);
        store_->set_firmware_verified(fw, false);
        throw std::runtime_error("boom");
    }),
                 std::runtime_error);
    EXPECT_FALSE(store_->firmware(fw));
    EXPECT_FALSE(store_->device({"pk1", "tx"}));
    EXPECT_TRUE(store_->tasks({}, {0, 100}).empty());
    EXPECT_TRUE(store_->events_after(0, 100).empty());
    // The store is usable afterwards and the same firmware can be added for real.
    EXPECT_GT(store_->add_firmware(make_firmware("pk1", "9.9.9")), 0);
}

TEST_P(StoreTest, NestedTransactionsJoinTheOuterOne) {
    store_->transaction([&] {
        EXPECT_TRUE(store_->add_device(make_device("pk1", "outer")));
        store_->transaction([&] { EXPECT_TRUE(store_->add_device(make_device("pk1", "inner"))); });
    });
    EXPECT_TRUE(store_->device({"pk1", "outer"}));
    EXPECT_TRUE(store_->device({"pk1", "inner"}));

    EXPECT_THROW(store_->transaction([&] {
        store_->transaction([&] { EXPECT_TRUE(store_->add_device(make_device("pk1", "in2"))); });
        EXPECT_TRUE(store_->add_device(make_device("pk1", "out2")));
        throw ApiError(400, "invalid_argument", "late failure");
    }),
                 ApiError);
    EXPECT_FALSE(store_->device({"pk1", "in2"}));  // the inner part went with the outer one
    EXPECT_FALSE(store_->device({"pk1", "out2"}));
    // A failing inner call inside a transaction (duplicate firmware) aborts the whole of it.
    store_->add_firmware(make_firmware("pk1", "1.0.0"));
    EXPECT_THROW(store_->transaction([&] {
        EXPECT_TRUE(store_->add_device(make_device("pk1", "before-dup")));
        store_->add_firmware(make_firmware("pk1", "1.0.0"));
    }),
                 ApiError);
    EXPECT_FALSE(store_->device({"pk1", "before-dup"}));
}

TEST_P(StoreTest, OtherThreadsWaitForTheTransaction) {
    if (is_memory()) {
        GTEST_SKIP() << "the fake store is single-threaded";
    }
    std::atomic<bool> inside{false};
    std::vector<Event> seen_by_other;
    std::thread other([&] {
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!inside.load() && std::chrono::steady_clock::now() < give_up) {
            std::this_thread::yield();
        }
        seen_by_other = store_->events_after(0, 100);  // must wait for the rollback
    });
    EXPECT_THROW(store_->transaction([&] {
        Event e{0, 1, "task", 0, "{}"};
        store_->append_event(e);
        inside = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        throw std::runtime_error("rolled back");
    }),
                 std::runtime_error);
    other.join();
    EXPECT_TRUE(seen_by_other.empty());
}

TEST_P(StoreTest, ReopenKeepsDataAndDoesNotReapplyMigrations) {
    if (!env_->raw()) {
        GTEST_SKIP() << "not persistent";
    }
    const std::int64_t fw = store_->add_firmware(make_firmware("pk1", "1.0.0"));
    ASSERT_TRUE(store_->add_device(make_device("pk1", "d1")));
    store_.reset();
    store_ = env_->open();
    EXPECT_EQ(store_->firmware(fw)->version, "1.0.0");
    EXPECT_TRUE(store_->device({"pk1", "d1"}));
    const auto rows =
        env_->raw()->query("SELECT version FROM schema_migrations ORDER BY version", {});
    ASSERT_EQ(rows.size(), static_cast<std::size_t>(sql::latest_schema_version()));
    EXPECT_EQ(rows.back().integer(0), sql::latest_schema_version());
}

TEST_P(StoreTest, DatabaseNewerThanTheBinaryIsRefused) {
    if (!env_->raw()) {
        GTEST_SKIP() << "not persistent";
    }
    store_.reset();
    env_->raw()->query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)",
                       {std::int64_t{sql::latest_schema_version() + 1}});
    try {
        store_ = env_->open();
        FAIL() << "a newer schema was accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("newer than this ota_console"), std::string::npos)
            << e.what();
    }
}

}  // namespace console::test
