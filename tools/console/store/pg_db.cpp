// The PostgreSQL side of the store's Db seam (libpq C API), and the scheduler election.
//
// Why two connections: the scheduler lock is a session advisory lock, held as long as the session
// lives; on the store's main connection a reconnect (after a server restart) would silently drop
// it. A dedicated connection makes "lost connection = lost lock" explicit: the next
// try_become_scheduler() sees the connection gone, answers false and reconnects on a later call,
// so at most one process schedules at a time. Parameters go as text ("$1" types are inferred from
// the columns they meet), results come back as text. Every transaction first takes a
// transaction-level advisory lock (the writers' lock): writes of all console processes are then
// committed one after another, so an event's seq never becomes visible after a higher one and an
// SSE reader polling events_after(seq) cannot skip it.
#include <libpq-fe.h>

#include <stdexcept>

#include "store/db.hpp"

namespace console::sql {

namespace {

constexpr std::int64_t kWriterLockKey = 0x6f74615f77726974;  // "ota_writ"

struct ConnCloser {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct ResultClearer {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using ConnHandle = std::unique_ptr<PGconn, ConnCloser>;
using ResultHandle = std::unique_ptr<PGresult, ResultClearer>;

void ignore_notice(void* /*arg*/, const char* /*message*/) {}

/// libpq's messages end with a newline; keep one line.
std::string trimmed(const char* msg) {
    std::string s = msg != nullptr ? msg : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

/// Connects with a bounded connect timeout (the URL's own connect_timeout wins). Returns a
/// handle even on failure (to read its message); the caller checks PQstatus.
ConnHandle connect(const std::string& url) {
    const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"10", "ota_console", url.c_str(), nullptr};
    ConnHandle conn(PQconnectdbParams(keys, values, 1));
    if (!conn) throw std::runtime_error("postgresql: out of memory");
    PQsetNoticeProcessor(conn.get(), ignore_notice, nullptr);
    return conn;
}

class PgDb final : public Db {
  public:
    explicit PgDb(std::string url) : url_(std::move(url)), conn_(connect(url_)) {
        if (PQstatus(conn_.get()) != CONNECTION_OK) {
            throw std::runtime_error("postgresql: cannot connect to " + redact_url(url_) + ": " +
                                     trimmed(PQerrorMessage(conn_.get())));
        }
        session_settings();
    }

    Rows query(const std::string& sql, const Params& params) override {
        ensure_connected();
        std::vector<std::string> texts(params.size());
        std::vector<const char*> values(params.size(), nullptr);
        for (std::size_t i = 0; i < params.size(); ++i) {
            if (std::holds_alternative<std::int64_t>(params[i])) {
                texts[i] = std::to_string(std::get<std::int64_t>(params[i]));
                values[i] = texts[i].c_str();
            } else if (std::holds_alternative<std::string>(params[i])) {
                values[i] = std::get<std::string>(params[i]).c_str();
            }
        }
        const ResultHandle res(PQexecParams(conn_.get(), sql.c_str(),
                                            static_cast<int>(params.size()), nullptr, values.data(),
                                            nullptr, nullptr, 0));
        check(res.get(), "query");
        Rows rows;
        const int n = PQntuples(res.get());
        const int fields = PQnfields(res.get());
        rows.reserve(static_cast<std::size_t>(n));
        for (int r = 0; r < n; ++r) {
            std::vector<std::optional<std::string>> cells;
            cells.reserve(static_cast<std::size_t>(fields));
            for (int c = 0; c < fields; ++c) {
                if (PQgetisnull(res.get(), r, c) != 0) {
                    cells.emplace_back(std::nullopt);
                } else {
                    cells.emplace_back(
                        std::string(PQgetvalue(res.get(), r, c),
                                    static_cast<std::size_t>(PQgetlength(res.get(), r, c))));
                }
            }
            rows.emplace_back(std::move(cells));
        }
        return rows;
    }

    void script(const std::string& sql) override {
        ensure_connected();
        const ResultHandle res(PQexec(conn_.get(), sql.c_str()));
        check(res.get(), "statement");
    }

    void begin() override {
        script("BEGIN");
        in_tx_ = true;
        try {
            query("SELECT pg_advisory_xact_lock($1)", {kWriterLockKey});
        } catch (...) {
            rollback();  // the caller only rolls back what began
            throw;
        }
    }
    void commit() override {
        in_tx_ = false;
        script("COMMIT");
    }
    void rollback() noexcept override {
        in_tx_ = false;
        if (PQstatus(conn_.get()) == CONNECTION_OK) {
            PQclear(PQexec(conn_.get(), "ROLLBACK"));
        }
    }
    Dialect dialect() const noexcept override { return Dialect::postgresql; }

    bool try_become_scheduler() override {
        if (lock_conn_ && held_) {
            // Still ours only while the session lives: probe it.
            const ResultHandle res(PQexec(lock_conn_.get(), "SELECT 1"));
            if (PQresultStatus(res.get()) == PGRES_TUPLES_OK) return true;
            lock_conn_.reset();
            held_ = false;
            return false;  // lost; try again on a later call
        }
        if (!lock_conn_ || PQstatus(lock_conn_.get()) != CONNECTION_OK) {
            lock_conn_ = connect(url_);
            if (PQstatus(lock_conn_.get()) != CONNECTION_OK) {
                lock_conn_.reset();
                return false;
            }
        }
        const std::string key = std::to_string(kSchedulerLockKey);
        const char* values[] = {key.c_str()};
        const ResultHandle res(PQexecParams(lock_conn_.get(), "SELECT pg_try_advisory_lock($1)", 1,
                                            nullptr, values, nullptr, nullptr, 0));
        if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) {
            lock_conn_.reset();
            return false;
        }
        held_ = std::string(PQgetvalue(res.get(), 0, 0)) == "t";
        return held_;
    }

  private:
    /// Outside a transaction a broken connection (server restarted) is re-established once.
    void ensure_connected() {
        if (PQstatus(conn_.get()) == CONNECTION_OK || in_tx_) return;
        PQreset(conn_.get());
        if (PQstatus(conn_.get()) != CONNECTION_OK) {
            throw std::runtime_error("postgresql: connection to " + redact_url(url_) +
                                     " lost: " + trimmed(PQerrorMessage(conn_.get())));
        }
        session_settings();
    }

    /// A writer waits at most 30 s for another process's transaction (the writers' lock, a row),
    /// then fails with a clear error instead of hanging.
    void session_settings() { script("SET lock_timeout = '30s'"); }

    void check(PGresult* res, const char* what) {
        const ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return;
        const std::string msg = res != nullptr ? trimmed(PQresultErrorMessage(res))
                                               : trimmed(PQerrorMessage(conn_.get()));
        throw std::runtime_error(std::string("postgresql ") + what + ": " + msg);
    }

    std::string url_;
    ConnHandle conn_;
    ConnHandle lock_conn_;  ///< the scheduler lock's session (null until first asked)
    bool held_ = false;
    bool in_tx_ = false;
};

}  // namespace

std::unique_ptr<Db> open_postgresql(const std::string& url) {
    return std::make_unique<PgDb>(url);
}

}  // namespace console::sql
