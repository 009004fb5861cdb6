// The store conformance suite on a real PostgreSQL (the `pg` ctest fixture: scripts/pg.sh), plus
// the scheduler election between two stores and the connection error's wording.
//
// Why a schema per test: ctest runs the cases as separate processes, possibly in parallel, on one
// throwaway cluster; each case gets an empty schema of its own (search_path in the URL's options),
// dropped at its end, so no case sees another's rows and the migrations run from scratch each time.
#include <gtest/gtest.h>
#include <unistd.h>

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
    bool took_over = false;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!took_over && std::chrono::steady_clock::now() < give_up) {
        took_over = b->try_become_scheduler();
        if (!took_over) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(took_over);
    auto c = env.open();
    EXPECT_FALSE(c->try_become_scheduler());
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
