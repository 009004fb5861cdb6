// The store's internal database seam: one SQL text, parameters in, rows of text out.
//
// Why a seam this small: the Store logic (sql_store.cpp) is written once and runs on SQLite and on
// PostgreSQL. Both accept `$1`-style placeholders (SQLite treats them as named parameters "$1",
// "$2", ...; the SQLite binding looks them up by name, so a number may appear several times or out
// of order), both have RETURNING, ON CONFLICT and partial indexes. What differs is only the DDL's
// column types (a few tokens in the migrations) and how a transaction starts. Cells come back as
// text (libpq's text format; SQLite's textual value), parsed by the Row accessors. Not thread-safe:
// the SqlStore's mutex serialises every call.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace console::sql {

/// One bound parameter: NULL, an integer or a text.
using Param = std::variant<std::nullptr_t, std::int64_t, std::string>;
using Params = std::vector<Param>;

/// One result row; a NULL cell is std::nullopt.
class Row {
  public:
    explicit Row(std::vector<std::optional<std::string>> cells) : cells_(std::move(cells)) {}
    /// The cell as a 64-bit integer (NULL = 0); throws std::runtime_error when it is not one.
    [[nodiscard]] std::int64_t integer(std::size_t i) const;
    /// The cell as text (NULL = "").
    [[nodiscard]] std::string text(std::size_t i) const;
    [[nodiscard]] bool is_null(std::size_t i) const { return !cells_.at(i).has_value(); }
    [[nodiscard]] std::size_t size() const noexcept { return cells_.size(); }

  private:
    std::vector<std::optional<std::string>> cells_;
};
using Rows = std::vector<Row>;

/// Which server a Db talks to (selects the DDL tokens and the transaction start).
enum class Dialect { sqlite, postgresql };

/// One database connection. Every method throws std::runtime_error with the server's reason.
class Db {
  public:
    virtual ~Db() = default;
    Db() = default;
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    /// Runs one statement with `$n` parameters and returns its rows (none for most writes).
    virtual Rows query(const std::string& sql, const Params& params) = 0;
    /// Runs several parameterless statements (DDL of a migration).
    virtual void script(const std::string& sql) = 0;
    /// Starts a write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN and a
    /// transaction-level advisory lock that serialises writers of all console processes, so event
    /// seqs become visible in increasing order).
    virtual void begin() = 0;
    virtual void commit() = 0;
    /// Never throws: a failed rollback leaves the connection to be reset by the next call.
    virtual void rollback() noexcept = 0;
    [[nodiscard]] virtual Dialect dialect() const noexcept = 0;
    /// True when this process is (or just became) the scheduler (see Store::try_become_scheduler).
    virtual bool try_become_scheduler() = 0;
};

/// The PostgreSQL session advisory lock key of the scheduler election (pg_locks shows it as
/// classid = the high 32 bits, objid = the low 32 bits, objsubid = 1).
inline constexpr std::int64_t kSchedulerLockKey = 0x6f74615f73636864;  // "ota_schd"

/// Opens (creating it if needed) the SQLite database at `path`: WAL, synchronous=NORMAL, a busy
/// timeout and foreign keys on.
std::unique_ptr<Db> open_sqlite(const std::string& path);
/// Connects to a postgresql:// URL (plus a second, lazily made connection for the scheduler
/// lock). Error messages never contain the URL's password.
std::unique_ptr<Db> open_postgresql(const std::string& url);

/// `url` with the password (the part between "user:" and "@") replaced by "***".
[[nodiscard]] std::string redact_url(const std::string& url);

/// The newest schema version this binary knows.
[[nodiscard]] int latest_schema_version() noexcept;
/// Applies every migration newer than the database's version, each in its own transaction (the
/// writers' transaction of Db::begin, so concurrent first starts do not collide).
/// Throws std::runtime_error when the database is newer than this binary.
void migrate(Db& db);
/// As migrate(), but stops at schema version `target` (tests: plant data an older console wrote).
/// std::invalid_argument for a version this binary does not know.
void migrate_to(Db& db, int target);

}  // namespace console::sql
