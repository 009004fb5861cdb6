// The store conformance suite on the fake MemoryStore and on SQLite in a temporary directory, plus
// what only the SQLite store does (the data directory's lock, open_store's argument errors).
//
// Why the fake is here too: the engine's unit tests trust it; this run shows it agrees with SQLite.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "store/store_env.hpp"
#include "support/memory_store.hpp"

namespace console::test {
namespace {

namespace fs = std::filesystem;

/// A fresh directory under the test temp dir, removed at the end.
class TempDir {
  public:
    TempDir() {
        static int counter = 0;
        path_ = fs::path(testing::TempDir()) /
                ("ota_store_" + std::to_string(::getpid()) + "_" + std::to_string(++counter));
        fs::remove_all(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] std::string str() const { return path_.string(); }

  private:
    fs::path path_;
};

class MemoryEnv : public StoreEnv {
  public:
    std::unique_ptr<Store> open() override { return std::make_unique<MemoryStore>(); }
    std::unique_ptr<sql::Db> raw() override { return nullptr; }
};

class SqliteEnv : public StoreEnv {
  public:
    std::unique_ptr<Store> open() override { return open_store(dir_.str() + "/data", ""); }
    std::unique_ptr<sql::Db> raw() override {
        return sql::open_sqlite(dir_.str() + "/data/console.db");
    }

  private:
    TempDir dir_;
};

INSTANTIATE_TEST_SUITE_P(
    Backends, StoreTest,
    testing::Values(Backend{"memory", [] { return std::make_unique<MemoryEnv>(); }},
                    Backend{"sqlite", [] { return std::make_unique<SqliteEnv>(); }}),
    backend_name);

TEST(SqliteStore, SecondOpenOfTheSameDataDirectoryIsRefused) {
    TempDir dir;
    const std::string data = dir.str() + "/nested/data";  // created with its parents
    auto first = open_store(data, "");
    EXPECT_STREQ(first->kind(), "sqlite");
    EXPECT_TRUE(first->try_become_scheduler());
    EXPECT_TRUE(fs::exists(data + "/console.db"));
    try {
        auto second = open_store(data, "");
        FAIL() << "a second store opened the same data directory";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("another ota_console is using this data directory"),
                  std::string::npos)
            << e.what();
    }
    first.reset();  // the lock goes with the store
    EXPECT_NO_THROW(open_store(data, ""));
}

TEST(SqliteStore, WalModeAndForeignKeysAreOn) {
    TempDir dir;
    auto store = open_store(dir.str(), "");
    auto raw = sql::open_sqlite(dir.str() + "/console.db");
    EXPECT_EQ(raw->query("PRAGMA journal_mode", {}).at(0).text(0), "wal");
    // A task of an unknown rollout violates the schema's foreign key.
    std::vector<Task> orphan(1);
    orphan[0].rollout_id = 4242;
    orphan[0].device = {"pk", "dn"};
    EXPECT_THROW(store->add_tasks(orphan), std::runtime_error);
    EXPECT_TRUE(store->tasks({}, {0, 10}).empty());
}

TEST(SqliteStore, BadArgumentsAreClearErrors) {
    try {
        (void)open_store("", "");
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("no data directory"), std::string::npos);
    }
    try {
        (void)open_store("/tmp", "mysql://user:sekrit@host/db");
        FAIL();
    } catch (const std::runtime_error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("unsupported database URL"), std::string::npos) << msg;
        EXPECT_EQ(msg.find("sekrit"), std::string::npos) << msg;
    }
    TempDir dir;
    fs::create_directories(dir.str());
    { std::ofstream(dir.str() + "/file") << "x"; }
    EXPECT_THROW((void)open_store(dir.str() + "/file", ""), std::runtime_error);  // not a directory
}

TEST(SqliteStore, AFileThatIsNoDatabaseIsAClearError) {
    TempDir dir;
    fs::create_directories(dir.str());
    { std::ofstream(dir.str() + "/console.db") << std::string(4096, 'x'); }
    try {
        (void)open_store(dir.str(), "");
        FAIL() << "garbage accepted";
    } catch (const std::runtime_error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("not a database"), std::string::npos) << msg;
        EXPECT_NE(msg.find("console.db"), std::string::npos) << msg;
    }
}

TEST(RedactUrl, HidesThePasswordOnly) {
    EXPECT_EQ(sql::redact_url("postgresql://ota:s3cr:et@db.example:5432/ota?sslmode=require"),
              "postgresql://ota:***@db.example:5432/ota?sslmode=require");
    EXPECT_EQ(sql::redact_url("postgresql://ota@127.0.0.1:5/x"), "postgresql://ota@127.0.0.1:5/x");
    EXPECT_EQ(sql::redact_url("postgresql://h/x?user=a&password=pw&sslmode=disable"),
              "postgresql://h/x?user=a&password=***&sslmode=disable");
}

}  // namespace
}  // namespace console::test
