// The Store on a SQL database, written once for SQLite and PostgreSQL over the Db seam.
//
// Why one implementation: the two servers must agree on every query's result (the engine's tests
// run on the fake and on SQLite, the integration tests on PostgreSQL); one SQL text per query makes
// a difference between them a bug of the server, not of a second copy of the logic. Every filter
// and every order is in SQL behind an index (see migrations.cpp), so a list costs its page, not
// the table. One recursive mutex serialises the connection: transaction() holds it for the whole
// transaction and a nested call joins it; methods that write several rows run in a transaction.
#include "store/sql_store.hpp"

#include <limits>
#include <mutex>
#include <stdexcept>

#include "store/db.hpp"
#include "store/records.hpp"

namespace console::sql {

namespace {

/// Builds a WHERE clause and its parameters ($1, $2, ... in the order they are added).
class Where {
  public:
    /// Adds a parameter and returns its placeholder.
    std::string param(Param p) {
        params_.push_back(std::move(p));
        return "$" + std::to_string(params_.size());
    }
    void add(const std::string& condition) {
        text_ += text_.empty() ? " WHERE " : " AND ";
        text_ += condition;
    }
    [[nodiscard]] const std::string& text() const { return text_; }
    [[nodiscard]] const Params& params() const { return params_; }

  private:
    std::string text_;
    Params params_;
};

std::int64_t limit_of(std::size_t limit) {
    constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
    return static_cast<std::int64_t>(limit > kMax ? kMax : limit);
}

std::uint32_t u32(std::int64_t v) {
    return static_cast<std::uint32_t>(v);
}

template <typename T, typename F>
std::vector<T> map_rows(const Rows& rows, F from) {
    std::vector<T> out;
    out.reserve(rows.size());
    for (const Row& r : rows) out.push_back(from(r));
    return out;
}

ApiError not_found(const std::string& what, std::int64_t id) {
    return ApiError(404, "not_found", what + " " + std::to_string(id) + " not found");
}

class SqlStore final : public Store {
  public:
    SqlStore(std::unique_ptr<Db> db, std::shared_ptr<const void> guard)
        : guard_(std::move(guard)), db_(std::move(db)) {}

    void transaction(const std::function<void()>& fn) override {
        const std::lock_guard lock(mu_);
        if (in_tx_) {
            fn();
            return;
        }
        db_->begin();
        in_tx_ = true;
        try {
            fn();
            db_->commit();
        } catch (...) {
            in_tx_ = false;
            db_->rollback();
            throw;
        }
        in_tx_ = false;
    }

    // --- firmware ---
    std::int64_t add_firmware(const Firmware& f) override {
        std::int64_t id = 0;
        transaction([&] {
            if (!q("SELECT id FROM firmware WHERE product_key = $1 AND module = $2 AND "
                   "version = $3",
                   {f.product_key, f.module, f.version})
                     .empty()) {
                throw ApiError(409, "conflict",
                               "firmware " + f.product_key + "/" + f.module + " version " +
                                   f.version + " exists already");
            }
            id = q("INSERT INTO firmware (product_key, module, version, size, md5, sha256, "
                   "sign_method, ext_data, verified, created_at) VALUES ($1, $2, $3, $4, $5, $6, "
                   "$7, $8, $9, $10) RETURNING id",
                   {f.product_key, f.module, f.version, static_cast<std::int64_t>(f.size), f.md5,
                    f.sha256, f.sign_method, f.ext_data, std::int64_t{f.verified}, f.created_at})
                     .at(0)
                     .integer(0);
        });
        return id;
    }
    std::optional<Firmware> firmware(std::int64_t id) override {
        const Rows rows =
            q(std::string("SELECT ") + kFirmwareColumns + " FROM firmware WHERE id = $1", {id});
        if (rows.empty()) return std::nullopt;
        return firmware_from(rows.front());
    }
    std::vector<Firmware> list_firmware(const std::string& product_key, Page page) override {
        Where w;
        if (!product_key.empty()) w.add("product_key = " + w.param(product_key));
        w.add("id > " + w.param(page.after));
        const std::string limit = w.param(limit_of(page.limit));
        return map_rows<Firmware>(q(std::string("SELECT ") + kFirmwareColumns + " FROM firmware" +
                                        w.text() + " ORDER BY id LIMIT " + limit,
                                    w.params()),
                                  firmware_from);
    }
    void set_firmware_verified(std::int64_t id, bool verified) override {
        if (q("UPDATE firmware SET verified = $1 WHERE id = $2 RETURNING id",
              {std::int64_t{verified}, id})
                .empty()) {
            throw not_found("firmware", id);
        }
    }

    // --- devices ---
    bool add_device(const Device& d) override {
        bool created = false;
        transaction([&] {
            const Rows rows =
                q("INSERT INTO devices (product_key, device_name, created_at, last_seen_at) VALUES "
                  "($1, $2, $3, $4) ON CONFLICT (product_key, device_name) DO NOTHING RETURNING id",
                  {d.key.product_key, d.key.device_name, d.created_at, d.last_seen_at});
            if (rows.empty()) return;
            created = true;
            const std::int64_t id = rows.front().integer(0);
            insert_tags(id, d.tags);
            for (const auto& [module, version] : d.versions) {
                q("INSERT INTO device_versions (device_id, module, version) VALUES ($1, $2, $3)",
                  {id, module, version});
            }
        });
        return created;
    }
    std::optional<Device> device(const DeviceKey& key) override {
        auto found =
            select_devices("FROM devices d WHERE d.product_key = $1 AND d.device_name = $2",
                           {key.product_key, key.device_name});
        if (found.empty()) return std::nullopt;
        return std::move(found.front());
    }
    std::vector<Device> list_devices(const DeviceFilter& f, const std::optional<DeviceKey>& after,
                                     std::size_t limit) override {
        Where w;
        if (!f.product_key.empty()) w.add("d.product_key = " + w.param(f.product_key));
        if (!f.version.empty()) {
            w.add(
                "EXISTS (SELECT 1 FROM device_versions v WHERE v.device_id = d.id AND "
                "v.module = " +
                w.param(f.module) + " AND v.version = " + w.param(f.version) + ")");
        }
        if (f.online) {
            const std::string since = w.param(f.online_since);
            w.add(*f.online ? "(d.last_seen_at <> 0 AND d.last_seen_at >= " + since + ")"
                            : "(d.last_seen_at = 0 OR d.last_seen_at < " + since + ")");
        }
        if (!f.tag.empty()) {
            w.add("EXISTS (SELECT 1 FROM device_tags t WHERE t.device_id = d.id AND t.tag = " +
                  w.param(f.tag) + ")");
        }
        if (after) {
            w.add("(d.product_key, d.device_name) > (" + w.param(after->product_key) + ", " +
                  w.param(after->device_name) + ")");
        }
        const std::string lim = w.param(limit_of(limit));
        return select_devices(
            "FROM devices d" + w.text() + " ORDER BY d.product_key, d.device_name LIMIT " + lim,
            w.params());
    }
    std::vector<Device> devices_of_product(const std::string& product_key) override {
        return select_devices("FROM devices d WHERE d.product_key = $1 ORDER BY d.device_name",
                              {product_key});
    }
    void set_device_version(const DeviceKey& key, const std::string& module,
                            const std::string& version, Millis at) override {
        transaction([&] {
            const Rows rows =
                q("UPDATE devices SET last_seen_at = $3 WHERE product_key = $1 AND "
                  "device_name = $2 RETURNING id",
                  {key.product_key, key.device_name, at});
            if (rows.empty()) return;
            q("INSERT INTO device_versions (device_id, module, version) VALUES ($1, $2, $3) "
              "ON CONFLICT (device_id, module) DO UPDATE SET version = excluded.version",
              {rows.front().integer(0), module, version});
        });
    }
    void touch_device(const DeviceKey& key, Millis at) override {
        q("UPDATE devices SET last_seen_at = $3 WHERE product_key = $1 AND device_name = $2",
          {key.product_key, key.device_name, at});
    }
    void set_device_tags(const DeviceKey& key, const std::vector<std::string>& tags) override {
        transaction([&] {
            const Rows rows =
                q("SELECT id FROM devices WHERE product_key = $1 AND device_name = $2",
                  {key.product_key, key.device_name});
            if (rows.empty()) return;
            const std::int64_t id = rows.front().integer(0);
            q("DELETE FROM device_tags WHERE device_id = $1", {id});
            insert_tags(id, tags);
        });
    }
    std::map<std::string, std::int64_t> version_distribution(const std::string& product_key,
                                                             const std::string& module) override {
        std::map<std::string, std::int64_t> out;
        for (const Row& r :
             q("SELECT COALESCE(v.version, ''), COUNT(*) FROM devices d LEFT JOIN device_versions "
               "v ON v.device_id = d.id AND v.module = $2 WHERE d.product_key = $1 "
               "GROUP BY COALESCE(v.version, '')",
               {product_key, module})) {
            out[r.text(0)] += r.integer(1);
        }
        return out;
    }

    // --- rollouts ---
    std::int64_t add_rollout(const Rollout& r) override {
        return q("INSERT INTO rollouts (firmware_id, name, kind, state, is_dynamic, forced, spec, "
                 "current_phase, reason, created_at, updated_at, finished_at) VALUES ($1, $2, $3, "
                 "$4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
                 rollout_params(r))
            .at(0)
            .integer(0);
    }
    void update_rollout(const Rollout& r) override {
        Params p = rollout_params(r);
        p.emplace_back(r.id);
        if (q("UPDATE rollouts SET firmware_id = $1, name = $2, kind = $3, state = $4, "
              "is_dynamic = $5, forced = $6, spec = $7, current_phase = $8, reason = $9, "
              "created_at = $10, updated_at = $11, finished_at = $12 WHERE id = $13 RETURNING id",
              p)
                .empty()) {
            throw not_found("rollout", r.id);
        }
    }
    std::optional<Rollout> rollout(std::int64_t id) override {
        const Rows rows =
            q(std::string("SELECT ") + kRolloutColumns + " FROM rollouts WHERE id = $1", {id});
        if (rows.empty()) return std::nullopt;
        return rollout_from(rows.front());
    }
    std::vector<Rollout> list_rollouts(Page page) override {
        return map_rows<Rollout>(q(std::string("SELECT ") + kRolloutColumns +
                                       " FROM rollouts WHERE id > $1 ORDER BY id LIMIT $2",
                                   {page.after, limit_of(page.limit)}),
                                 rollout_from);
    }
    std::vector<Rollout> active_rollouts() override {
        return map_rows<Rollout>(
            q(std::string("SELECT ") + kRolloutColumns +
                  " FROM rollouts WHERE state IN ('scheduled', 'running', 'paused', 'canceling') "
                  "ORDER BY id",
              {}),
            rollout_from);
    }

    // --- tasks ---
    void add_tasks(std::vector<Task>& tasks) override {
        std::vector<std::int64_t> ids;
        ids.reserve(tasks.size());
        transaction([&] {
            for (const Task& t : tasks) {
                ids.push_back(
                    q("INSERT INTO tasks (rollout_id, product_key, device_name, module, phase, "
                      "state, attempt, from_version, last_step, downloaded, reason, queued_at, "
                      "notified_at, first_progress_at, deadline_at, finished_at, updated_at) "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
                      "$16, $17) RETURNING id",
                      task_params(t))
                        .at(0)
                        .integer(0));
            }
        });
        // Only after the commit: a rolled-back insert leaves the caller's tasks untouched.
        for (std::size_t i = 0; i < tasks.size(); ++i) tasks[i].id = ids[i];
    }
    void update_task(const Task& t) override {
        Params p = task_params(t);
        p.emplace_back(t.id);
        if (q("UPDATE tasks SET rollout_id = $1, product_key = $2, device_name = $3, module = $4, "
              "phase = $5, state = $6, attempt = $7, from_version = $8, last_step = $9, "
              "downloaded = $10, reason = $11, queued_at = $12, notified_at = $13, "
              "first_progress_at = $14, deadline_at = $15, finished_at = $16, updated_at = $17 "
              "WHERE id = $18 RETURNING id",
              p)
                .empty()) {
            throw not_found("task", t.id);
        }
    }
    std::optional<Task> task(std::int64_t id) override {
        const Rows rows =
            q(std::string("SELECT ") + kTaskColumns + " FROM tasks WHERE id = $1", {id});
        if (rows.empty()) return std::nullopt;
        return task_from(rows.front());
    }
    std::vector<Task> tasks(const TaskFilter& f, Page page) override {
        Where w;
        if (f.rollout_id != 0) w.add("rollout_id = " + w.param(f.rollout_id));
        if (f.phase) w.add("phase = " + w.param(std::int64_t{*f.phase}));
        if (f.state) w.add("state = " + w.param(std::string(to_string(*f.state))));
        if (f.device) {
            w.add("product_key = " + w.param(f.device->product_key));
            w.add("device_name = " + w.param(f.device->device_name));
        }
        w.add("id > " + w.param(page.after));
        const std::string lim = w.param(limit_of(page.limit));
        return map_rows<Task>(q(std::string("SELECT ") + kTaskColumns + " FROM tasks" + w.text() +
                                    " ORDER BY id LIMIT " + lim,
                                w.params()),
                              task_from);
    }
    std::optional<Task> open_task(const DeviceKey& key, const std::string& module) override {
        const Rows rows = q(std::string("SELECT ") + kTaskColumns +
                                " FROM tasks WHERE product_key = $1 AND device_name = $2 AND "
                                "module = $3 AND state IN " +
                                kOpenStates + " ORDER BY id LIMIT 1",
                            {key.product_key, key.device_name, module});
        if (rows.empty()) return std::nullopt;
        return task_from(rows.front());
    }
    std::vector<Task> due_queued(std::int64_t rollout_id, Millis now, std::size_t limit) override {
        return map_rows<Task>(
            q(std::string("SELECT ") + kTaskColumns +
                  " FROM tasks WHERE rollout_id = $1 AND state = 'queued' AND queued_at <= $2 "
                  "ORDER BY queued_at, id LIMIT $3",
              {rollout_id, now, limit_of(limit)}),
            task_from);
    }
    std::vector<Task> expired(Millis now, std::size_t limit) override {
        return map_rows<Task>(
            q(std::string("SELECT ") + kTaskColumns +
                  " FROM tasks WHERE state IN ('notified', 'in_progress') AND deadline_at > 0 AND "
                  "deadline_at <= $1 ORDER BY id LIMIT $2",
              {now, limit_of(limit)}),
            task_from);
    }
    TaskCounts task_counts(std::int64_t rollout_id) override {
        TaskCounts out;
        for (const Row& r : q("SELECT phase, state, COUNT(*) FROM tasks WHERE rollout_id = $1 "
                              "GROUP BY phase, state",
                              {rollout_id})) {
            const auto state = task_state_from(r.text(1));
            if (!state) throw std::runtime_error("store: a task has a bad state: " + r.text(1));
            out[{u32(r.integer(0)), *state}] = r.integer(2);
        }
        return out;
    }

    std::vector<Task> device_tasks(const DeviceKey& key, std::size_t limit) override {
        return map_rows<Task>(q(std::string("SELECT ") + kTaskColumns +
                                    " FROM tasks WHERE product_key = $1 AND device_name = $2 "
                                    "ORDER BY id DESC LIMIT $3",
                                {key.product_key, key.device_name, limit_of(limit)}),
                              task_from);
    }

    // --- events ---
    std::int64_t append_event(Event& e) override {
        std::int64_t seq = 0;
        // In a transaction even alone: on PostgreSQL that takes the writers' lock, so seqs
        // become visible in order (see Db::begin).
        transaction([&] {
            seq = q("INSERT INTO events (at, type, rollout_id, payload) VALUES ($1, $2, $3, $4) "
                    "RETURNING seq",
                    {e.at, e.type, e.rollout_id, e.json})
                      .at(0)
                      .integer(0);
        });
        e.seq = seq;
        return seq;
    }
    std::vector<Event> events_after(std::int64_t seq, std::size_t limit) override {
        return map_rows<Event>(q("SELECT seq, at, type, rollout_id, payload FROM events WHERE "
                                 "seq > $1 ORDER BY seq LIMIT $2",
                                 {seq, limit_of(limit)}),
                               [](const Row& r) {
                                   Event e;
                                   e.seq = r.integer(0);
                                   e.at = r.integer(1);
                                   e.type = r.text(2);
                                   e.rollout_id = r.integer(3);
                                   e.json = r.text(4);
                                   return e;
                               });
    }
    void prune_events(Millis before) override { q("DELETE FROM events WHERE at < $1", {before}); }
    std::int64_t last_event_seq() override {
        return q("SELECT COALESCE(MAX(seq), 0) FROM events", {}).at(0).integer(0);
    }

    // --- settings ---
    std::string shared_secret(const std::string& name,
                              const std::function<std::string()>& make) override {
        if (name.empty()) throw ApiError(400, "invalid_argument", "a setting needs a name");
        std::string value;
        // The writers' transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: the writers' advisory
        // lock) serialises processes; ON CONFLICT keeps the first value even without it.
        transaction([&] {
            const Rows found = q("SELECT value FROM settings WHERE name = $1", {name});
            if (!found.empty()) {
                value = found.front().text(0);
                return;
            }
            std::string made = make();
            if (made.empty()) {
                throw std::runtime_error("store: the new value of setting " + name + " is empty");
            }
            q("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
              {name, std::move(made)});
            value = q("SELECT value FROM settings WHERE name = $1", {name}).at(0).text(0);
        });
        return value;
    }

    bool try_become_scheduler() override {
        const std::lock_guard lock(mu_);
        return db_->try_become_scheduler();
    }
    const char* kind() const noexcept override {
        return db_->dialect() == Dialect::postgresql ? "postgresql" : "sqlite";
    }

  private:
    Rows q(const std::string& sql, const Params& params) {
        const std::lock_guard lock(mu_);
        return db_->query(sql, params);
    }

    void insert_tags(std::int64_t device_id, const std::vector<std::string>& tags) {
        for (const std::string& tag : tags) {
            q("INSERT INTO device_tags (device_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING",
              {device_id, tag});
        }
    }

    /// Devices of "FROM devices d ..." (a clause that may order and limit), with their tags and
    /// versions (read by the same clause as a subquery: one query each, whatever the page size).
    std::vector<Device> select_devices(const std::string& from, const Params& params) {
        const std::lock_guard lock(mu_);
        std::vector<Device> out;
        std::map<std::int64_t, std::size_t> index;
        for (const Row& r : q("SELECT d.id, d.product_key, d.device_name, d.created_at, "
                              "d.last_seen_at " +
                                  from,
                              params)) {
            Device d;
            d.key = {r.text(1), r.text(2)};
            d.created_at = r.integer(3);
            d.last_seen_at = r.integer(4);
            index[r.integer(0)] = out.size();
            out.push_back(std::move(d));
        }
        if (out.empty()) return out;
        const std::string ids = " IN (SELECT d.id " + from + ")";
        for (const Row& r : q("SELECT t.device_id, t.tag FROM device_tags t WHERE t.device_id" +
                                  ids + " ORDER BY t.device_id, t.tag",
                              params)) {
            const auto it = index.find(r.integer(0));
            if (it != index.end()) out[it->second].tags.push_back(r.text(1));
        }
        for (const Row& r : q("SELECT v.device_id, v.module, v.version FROM device_versions v "
                              "WHERE v.device_id" +
                                  ids,
                              params)) {
            const auto it = index.find(r.integer(0));
            if (it != index.end()) out[it->second].versions[r.text(1)] = r.text(2);
        }
        return out;
    }

    std::shared_ptr<const void> guard_;  ///< e.g. the data directory's lock; released last
    std::recursive_mutex mu_;
    bool in_tx_ = false;
    std::unique_ptr<Db> db_;
};

}  // namespace

std::unique_ptr<Store> make_sql_store(std::unique_ptr<Db> db, std::shared_ptr<const void> guard) {
    migrate(*db);
    return std::make_unique<SqlStore>(std::move(db), std::move(guard));
}

}  // namespace console::sql
