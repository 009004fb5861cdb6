// The store conformance suite on a real PostgreSQL (the `pg` ctest fixture: scripts/pg.sh), plus
// the scheduler election between two stores and the connection error's wording.
//
// Why a schema per test: ctest runs the cases as separate processes, possibly in parallel, on one
// throwaway cluster; each case gets an empty schema of its own (search_path in the URL's options),
// dropped at its end, so no case sees another's rows and the migrations run from scratch each time.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "store/store_env.hpp"

namespace console::test {
namespace {

/// PG_URL from the fixture's env file (OTA_PG_ENV_FILE); throws when the fixture is not running.
std::string pg_url() {
    std::ifstream in(OTA_PG_ENV_FILE);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("PG_URL=", 0) == 0) return line.substr(7);
    }
    throw std::runtime_error(std::string("no PG_URL in ") + OTA_PG_ENV_FILE +
                             " (start the cluster: ctest -R pg_start, or scripts/pg.sh start DIR)");
}

class PgEnv : public StoreEnv {
  public:
    PgEnv() : admin_(sql::open_postgresql(pg_url())) {
        std::random_device rd;
        schema_ = "t" + std::to_string(::getpid()) + "_" + std::to_string(rd() % 1000000);
        admin_->script("CREATE SCHEMA " + schema_);
        const std::string base = pg_url();
        url_ = base + (base.find('?') == std::string::npos ? "?" : "&") +
               "options=-csearch_path%3D" + schema_;
    }
    ~PgEnv() override {
        try {
            admin_->script("DROP SCHEMA " + schema_ + " CASCADE");
        } catch (const std::exception& e) {
            ADD_FAILURE() << "dropping " << schema_ << ": " << e.what();
        }
    }
    PgEnv(const PgEnv&) = delete;
    PgEnv& operator=(const PgEnv&) = delete;

    std::unique_ptr<Store> open() override { return open_store("", url_); }
    std::unique_ptr<sql::Db> raw() override { return sql::open_postgresql(url_); }
    [[nodiscard]] const std::string& url() const { return url_; }

  private:
    std::unique_ptr<sql::Db> admin_;
    std::string schema_;
    std::string url_;
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         testing::Values(Backend{"postgresql",
                                                 [] { return std::make_unique<PgEnv>(); }}),
                         backend_name);

/// Polls try_become_scheduler() for up to 10 s (a closed session's lock is released a moment
/// after the client has gone).
bool wait_for_scheduler(Store& s) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < give_up) {
        if (s.try_become_scheduler()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

// One case for every election step: the lock key is fixed, so two election cases running at the
// same time (ctest -j) would take it from each other.
TEST(PgStore, OneSchedulerUntilItsStoreIsDestroyed) {
    PgEnv env;
    auto a = env.open();
    auto b = env.open();
    EXPECT_STREQ(a->kind(), "postgresql");
    ASSERT_TRUE(a->try_become_scheduler());
    EXPECT_FALSE(b->try_become_scheduler());
    EXPECT_TRUE(a->try_become_scheduler());  // still held
    EXPECT_FALSE(b->try_become_scheduler());
    a.reset();  // its session ends, the server releases the lock
    EXPECT_TRUE(wait_for_scheduler(*b));
    auto c = env.open();
    EXPECT_FALSE(c->try_become_scheduler());

    // b's lock session dies (server restart, network): b learns it has lost the lock, c takes it.
    auto admin = env.raw();
    const auto key = static_cast<std::uint64_t>(sql::kSchedulerLockKey);
    const auto holder = admin->query(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1 AND "
        "objid = $2 AND objsubid = 1",
        {static_cast<std::int64_t>(key >> 32), static_cast<std::int64_t>(key & 0xffffffffU)});
    ASSERT_EQ(holder.size(), 1U);
    admin->query("SELECT pg_terminate_backend($1)", {holder.at(0).integer(0)});
    EXPECT_FALSE(b->try_become_scheduler());
    EXPECT_TRUE(wait_for_scheduler(*c));
    EXPECT_FALSE(b->try_become_scheduler());  // reconnected, but c holds it
    c.reset();
    EXPECT_TRUE(wait_for_scheduler(*b));
}

// Several console processes write events at once; an SSE reader that polls events_after(last
// seq) must still see every one of them (a seq that commits after a higher one would be skipped).
TEST(PgStore, ConcurrentWritersNeverHideAnEventFromAReader) {
    PgEnv env;
    constexpr int kWriters = 3;
    constexpr int kEach = 150;
    std::vector<std::unique_ptr<Store>> writers;
    for (int i = 0; i < kWriters; ++i) writers.push_back(env.open());
    auto reader = env.open();
    std::atomic<int> done{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
        threads.emplace_back([&, w] {
            try {
                for (int i = 0; i < kEach; ++i) {
                    writers[static_cast<std::size_t>(w)]->transaction([&] {
                        Event e{0, i, "task", w, "{}"};
                        writers[static_cast<std::size_t>(w)]->append_event(e);
                        // More work after the insert: the window in which a later seq could
                        // commit first.
                        (void)writers[static_cast<std::size_t>(w)]->events_after(e.seq, 1);
                    });
                }
            } catch (const std::exception& e) {
                ADD_FAILURE() << "writer " << w << ": " << e.what();
            }
            ++done;
        });
    }
    std::vector<std::int64_t> seen;
    std::int64_t last = 0;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
        const bool finished = done.load() == kWriters;
        for (const Event& e : reader->events_after(last, 1000)) {
            seen.push_back(e.seq);
            last = e.seq;
        }
        if (finished || std::chrono::steady_clock::now() > give_up) break;
    }
    for (auto& t : threads) t.join();
    std::vector<std::int64_t> all;
    for (const Event& e : reader->events_after(0, 100000)) all.push_back(e.seq);
    EXPECT_EQ(all.size(), static_cast<std::size_t>(kWriters * kEach));
    EXPECT_EQ(seen, all);
}

// Several console processes started at once on an empty database (a deployment's first start):
// each must come up, and the migrations must be applied exactly once.
TEST(PgStore, ConcurrentFirstStartsOnAnEmptySchemaAllSucceed) {
    constexpr int kRounds = 5;
    constexpr int kConsoles = 6;
    for (int round = 0; round < kRounds; ++round) {
        PgEnv env;
        std::atomic<int> ready{0};
        std::vector<std::thread> threads;
        std::vector<std::string> errors(kConsoles);
        for (int i = 0; i < kConsoles; ++i) {
            threads.emplace_back([&, i] {
                ++ready;
                while (ready.load() < kConsoles) std::this_thread::yield();
                try {
                    auto store = env.open();
                    (void)store->last_event_seq();
                } catch (const std::exception& e) {
                    errors[static_cast<std::size_t>(i)] = e.what();
                }
            });
        }
        for (auto& t : threads) t.join();
        for (int i = 0; i < kConsoles; ++i) {
            EXPECT_EQ(errors[static_cast<std::size_t>(i)], "")
                << "round " << round << ", console " << i;
        }
        const auto rows =
            env.raw()->query("SELECT version FROM schema_migrations ORDER BY version", {});
        ASSERT_EQ(rows.size(), static_cast<std::size_t>(sql::latest_schema_version()));
        if (HasFailure()) break;
    }
}

TEST(PgStore, LostConnectionFailsOneCallThenReconnects) {
    PgEnv env;
    auto db = env.raw();
    auto admin = env.raw();
    const std::int64_t pid = db->query("SELECT pg_backend_pid()", {}).at(0).integer(0);
    admin->query("SELECT pg_terminate_backend($1)", {pid});
    for (int i = 0; i < 500; ++i) {  // until the backend is gone (at most 5 s)
        if (admin->query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", {pid}).empty()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_THROW(db->query("SELECT 1", {}), std::runtime_error);
    EXPECT_NE(db->query("SELECT pg_backend_pid()", {}).at(0).integer(0), pid);
}

TEST(PgStore, ConnectionErrorNamesTheServerButNotThePassword) {
    try {
        (void)open_store("", "postgresql://ota:sekrit@127.0.0.1:1/ota_console");
        FAIL() << "connected to port 1";
    } catch (const std::runtime_error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("postgresql://ota:***@127.0.0.1:1/ota_console"), std::string::npos)
            << msg;
        EXPECT_EQ(msg.find("sekrit"), std::string::npos) << msg;
    }
}

}  // namespace
}  // namespace console::test
