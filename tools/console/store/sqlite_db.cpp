// The SQLite side of the store's Db seam (sqlite3 C API).
//
// Why these settings: WAL lets readers (another tool inspecting console.db) run beside the writer;
// synchronous=NORMAL in WAL mode keeps every committed transaction across a process crash (only an
// OS crash may lose the last ones), which is what "written before the action it causes" needs at a
// fraction of FULL's fsyncs; busy_timeout turns a concurrent writer into a wait instead of an
// error; foreign keys are off by default in SQLite. Prepared statements are cached by SQL text:
// the store sends the same few texts thousands of times a second under load.
#include <sqlite3.h>

#include <charconv>
#include <stdexcept>
#include <unordered_map>

#include "store/db.hpp"

namespace console::sql {

std::int64_t Row::integer(std::size_t i) const {
    const auto& cell = cells_.at(i);
    if (!cell) return 0;
    std::int64_t v = 0;
    const char* end = cell->data() + cell->size();
    const auto res = std::from_chars(cell->data(), end, v);
    if (res.ec != std::errc() || res.ptr != end) {
        throw std::runtime_error("store: column " + std::to_string(i) + " is not an integer");
    }
    return v;
}

std::string Row::text(std::size_t i) const {
    const auto& cell = cells_.at(i);
    return cell ? *cell : std::string();
}

namespace {

struct DbCloser {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;
using StmtHandle = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

/// Resets a cached statement when a query leaves (also on an exception), so it holds no lock.
class StmtReset {
  public:
    explicit StmtReset(sqlite3_stmt* s) : s_(s) {}
    ~StmtReset() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }
    StmtReset(const StmtReset&) = delete;
    StmtReset& operator=(const StmtReset&) = delete;

  private:
    sqlite3_stmt* s_;
};

class SqliteDb final : public Db {
  public:
    explicit SqliteDb(const std::string& path) {
        sqlite3* raw = nullptr;
        const int rc = sqlite3_open_v2(
            path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
            nullptr);
        db_.reset(raw);  // a handle is returned even on failure and must be closed
        if (rc != SQLITE_OK) {
            throw std::runtime_error("sqlite: cannot open " + path + ": " +
                                     (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
        }
        sqlite3_busy_timeout(db_.get(), 5000);
        try {
            script("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
        } catch (const std::runtime_error& e) {
            throw std::runtime_error(std::string(e.what()) + " (" + path + ")");
        }
        if (query("PRAGMA journal_mode", {}).at(0).text(0) != "wal") {
            throw std::runtime_error("sqlite: " + path + " cannot use WAL journal mode");
        }
    }

    Rows query(const std::string& sql, const Params& params) override {
        sqlite3_stmt* stmt = prepare(sql);
        const StmtReset reset(stmt);
        for (std::size_t i = 0; i < params.size(); ++i) {
            const std::string name = "$" + std::to_string(i + 1);
            const int idx = sqlite3_bind_parameter_index(stmt, name.c_str());
            if (idx == 0) continue;  // this number does not appear in the text
            const Param& p = params[i];
            int rc = SQLITE_OK;
            if (std::holds_alternative<std::int64_t>(p)) {
                rc = sqlite3_bind_int64(stmt, idx, std::get<std::int64_t>(p));
            } else if (std::holds_alternative<std::string>(p)) {
                const auto& s = std::get<std::string>(p);
                rc = sqlite3_bind_text64(stmt, idx, s.data(), s.size(), SQLITE_TRANSIENT,
                                         SQLITE_UTF8);
            } else {
                rc = sqlite3_bind_null(stmt, idx);
            }
            if (rc != SQLITE_OK) fail("bind");
        }
        Rows rows;
        for (;;) {
            const int rc = sqlite3_step(stmt);
            if (rc == SQLITE_DONE) break;
            if (rc != SQLITE_ROW) fail("query");
            const int n = sqlite3_column_count(stmt);
            std::vector<std::optional<std::string>> cells;
            cells.reserve(static_cast<std::size_t>(n));
            for (int c = 0; c < n; ++c) {
                if (sqlite3_column_type(stmt, c) == SQLITE_NULL) {
                    cells.emplace_back(std::nullopt);
                    continue;
                }
                const auto* text = sqlite3_column_text(stmt, c);
                const int len = sqlite3_column_bytes(stmt, c);
                cells.emplace_back(std::string(reinterpret_cast<const char*>(text),
                                               static_cast<std::size_t>(len)));
            }
            rows.emplace_back(std::move(cells));
        }
        return rows;
    }

    void script(const std::string& sql) override {
        char* err = nullptr;
        if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
            const std::string msg = err != nullptr ? err : "unknown error";
            sqlite3_free(err);
            throw std::runtime_error("sqlite: " + msg);
        }
    }

    void begin() override { script("BEGIN IMMEDIATE"); }
    void commit() override { script("COMMIT"); }
    void rollback() noexcept override {
        if (sqlite3_get_autocommit(db_.get()) == 0) {
            sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        }
    }
    Dialect dialect() const noexcept override { return Dialect::sqlite; }
    bool try_become_scheduler() override { return true; }

  private:
    sqlite3_stmt* prepare(const std::string& sql) {
        const auto it = cache_.find(sql);
        if (it != cache_.end()) return it->second.get();
        sqlite3_stmt* raw = nullptr;
        if (sqlite3_prepare_v3(db_.get(), sql.c_str(), static_cast<int>(sql.size()),
                               SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK) {
            fail("prepare");
        }
        StmtHandle handle(raw);
        if (cache_.size() > 256) cache_.clear();  // dynamic filters make a bounded set of texts
        return cache_.emplace(sql, std::move(handle)).first->second.get();
    }

    [[noreturn]] void fail(const char* what) {
        throw std::runtime_error(std::string("sqlite ") + what + ": " + sqlite3_errmsg(db_.get()));
    }

    DbHandle db_;
    std::unordered_map<std::string, StmtHandle> cache_;
};

}  // namespace

std::unique_ptr<Db> open_sqlite(const std::string& path) {
    return std::make_unique<SqliteDb>(path);
}

}  // namespace console::sql
