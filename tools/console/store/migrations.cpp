// The console's schema as numbered migrations, one SQL text for SQLite and PostgreSQL.
//
// Why numbered migrations in the binary: a console upgraded in place finds an older database and
// must bring it forward (each step in its own transaction, recorded in schema_migrations, so a
// crash between steps resumes at the first missing one); an older console pointed at a newer
// database must refuse it instead of writing rows it does not understand. The DDL differs between
// the two servers only in a few tokens:
//   {id}   an auto-increment 64-bit primary key that never reuses a value (event seqs must only
//   grow) {int}  a 64-bit integer {text} text that sorts bytewise (PostgreSQL: COLLATE "C"), as
//   std::string's operator< does, so
//          the device cursor means the same on both servers and in the fake store.
// Tasks' states are stored by name (readable in a SQL shell); the rollout's selection, phases and
// policy are one JSON column, since nothing queries inside them.
#include <chrono>
#include <stdexcept>
#include <string>

#include "store/db.hpp"

namespace console::sql {

namespace {

const char* const kMigrations[] = {
    // 1: the initial schema.
    R"sql(
CREATE TABLE firmware (
  id {id},
  product_key {text} NOT NULL,
  module {text} NOT NULL,
  version {text} NOT NULL,
  size {int} NOT NULL,
  md5 {text} NOT NULL,
  sha256 {text} NOT NULL,
  sign_method {text} NOT NULL,
  ext_data {text} NOT NULL,
  verified {int} NOT NULL,
  created_at {int} NOT NULL,
  UNIQUE (product_key, module, version)
);
CREATE INDEX firmware_product ON firmware (product_key, id);

CREATE TABLE devices (
  id {id},
  product_key {text} NOT NULL,
  device_name {text} NOT NULL,
  created_at {int} NOT NULL,
  last_seen_at {int} NOT NULL,
  UNIQUE (product_key, device_name)
);
CREATE INDEX devices_last_seen ON devices (last_seen_at);

CREATE TABLE device_tags (
  device_id {int} NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  tag {text} NOT NULL,
  PRIMARY KEY (device_id, tag)
);
CREATE INDEX device_tags_tag ON device_tags (tag, device_id);

CREATE TABLE device_versions (
  device_id {int} NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  module {text} NOT NULL,
  version {text} NOT NULL,
  PRIMARY KEY (device_id, module)
);
CREATE INDEX device_versions_version ON device_versions (module, version, device_id);

CREATE TABLE rollouts (
  id {id},
  firmware_id {int} NOT NULL REFERENCES firmware (id),
  name {text} NOT NULL,
  kind {text} NOT NULL,
  state {text} NOT NULL,
  is_dynamic {int} NOT NULL,
  forced {int} NOT NULL,
  spec {text} NOT NULL,
  current_phase {int} NOT NULL,
  reason {text} NOT NULL,
  created_at {int} NOT NULL,
  updated_at {int} NOT NULL,
  finished_at {int} NOT NULL
);
CREATE INDEX rollouts_state ON rollouts (state, id);

CREATE TABLE tasks (
  id {id},
  rollout_id {int} NOT NULL REFERENCES rollouts (id),
  product_key {text} NOT NULL,
  device_name {text} NOT NULL,
  module {text} NOT NULL,
  phase {int} NOT NULL,
  state {text} NOT NULL,
  attempt {int} NOT NULL,
  from_version {text} NOT NULL,
  last_step {int} NOT NULL,
  downloaded {int} NOT NULL,
  reason {text} NOT NULL,
  queued_at {int} NOT NULL,
  notified_at {int} NOT NULL,
  first_progress_at {int} NOT NULL,
  deadline_at {int} NOT NULL,
  finished_at {int} NOT NULL,
  updated_at {int} NOT NULL
);
CREATE INDEX tasks_open ON tasks (product_key, device_name, module)
  WHERE state IN ('queued', 'notified', 'in_progress');
CREATE INDEX tasks_due ON tasks (rollout_id, state, queued_at);
CREATE INDEX tasks_deadline ON tasks (state, deadline_at);
CREATE INDEX tasks_rollout ON tasks (rollout_id, id);
CREATE INDEX tasks_rollout_state ON tasks (rollout_id, state, id);
CREATE INDEX tasks_rollout_phase ON tasks (rollout_id, phase, state, id);
CREATE INDEX tasks_device ON tasks (product_key, device_name, id);

CREATE TABLE events (
  seq {id},
  at {int} NOT NULL,
  type {text} NOT NULL,
  rollout_id {int} NOT NULL,
  payload {text} NOT NULL
);
CREATE INDEX events_at ON events (at);
)sql",
    // 2: values shared by every console process on the database (Store::shared_secret).
    R"sql(
CREATE TABLE settings (
  name {text} PRIMARY KEY,
  value {text} NOT NULL
);
)sql",
    // 3: at most one open task per device and module, enforced by the database (two console
    // processes must not both start one). Duplicates an older console may have left: the oldest
    // stays open (the one open_task() answered), the others end as canceled.
    R"sql(
UPDATE tasks SET state = 'canceled', deadline_at = 0, finished_at = updated_at,
  reason = 'another task of this device and module was open (schema migration 3)'
WHERE state IN ('queued', 'notified', 'in_progress') AND EXISTS (
  SELECT 1 FROM tasks o WHERE o.product_key = tasks.product_key
    AND o.device_name = tasks.device_name AND o.module = tasks.module
    AND o.state IN ('queued', 'notified', 'in_progress') AND o.id < tasks.id);
DROP INDEX tasks_open;
CREATE UNIQUE INDEX tasks_one_open ON tasks (product_key, device_name, module)
  WHERE state IN ('queued', 'notified', 'in_progress');
)sql",
};

void replace_all(std::string& s, const std::string& from, const std::string& to) {
    for (std::size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos)) {
        s.replace(pos, from.size(), to);
        pos += to.size();
    }
}

std::string for_dialect(std::string ddl, Dialect d) {
    const bool pg = d == Dialect::postgresql;
    replace_all(ddl, "{id}",
                pg ? "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
                   : "INTEGER PRIMARY KEY AUTOINCREMENT");
    replace_all(ddl, "{int}", pg ? "BIGINT" : "INTEGER");
    replace_all(ddl, "{text}", pg ? "TEXT COLLATE \"C\"" : "TEXT");
    return ddl;
}

std::int64_t current_version(Db& db) {
    return db.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {}).at(0).integer(0);
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void refuse_newer(std::int64_t found) {
    throw std::runtime_error("store: the database has schema version " + std::to_string(found) +
                             ", newer than this ota_console knows (" +
                             std::to_string(latest_schema_version()) +
                             "); use a newer ota_console or another database");
}

}  // namespace

int latest_schema_version() noexcept {
    return static_cast<int>(sizeof kMigrations / sizeof kMigrations[0]);
}

void migrate(Db& db) {
    migrate_to(db, latest_schema_version());
}

void migrate_to(Db& db, int target) {
    const std::int64_t latest = latest_schema_version();
    if (target < 0 || target > latest) {
        throw std::invalid_argument("store: no schema version " + std::to_string(target));
    }
    for (std::int64_t v = 0; v <= target; ++v) {
        db.begin();
        try {
            // Inside the transaction, even the bookkeeping table: PostgreSQL's begin() takes the
            // writers' lock, so console processes starting at once on an empty database create it
            // (and apply each step) one after another instead of failing on each other's DDL.
            if (v == 0) {
                db.script(for_dialect(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version {int} PRIMARY KEY, "
                    "applied_at {int} NOT NULL)",
                    db.dialect()));
            }
            // Re-read inside the transaction: another console process may have migrated
            // meanwhile.
            const std::int64_t have = current_version(db);
            if (have > latest) refuse_newer(have);
            if (v > 0 && have < v) {
                db.script(for_dialect(kMigrations[v - 1], db.dialect()));
                db.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                         {v, now_ms()});
            }
            db.commit();
        } catch (...) {
            db.rollback();
            throw;
        }
    }
}

}  // namespace console::sql
