// A fake Store for the console's unit tests: records in maps, transactions by snapshot.
//
// Why a fake beside the real stores: the engine's tests drive thousands of fake-clock steps and a
// "crash" after every one of them; a map-backed store makes that fast and shows exactly what was
// written. The same engine tests also run on the real SQLite store (tests/console/engine), so the
// fake cannot hide a difference. A "crash" is: drop the Engine, keep the MemoryStore, build a new
// Engine on it. fail_after(n) makes the n-th following write throw, to test that a failed write
// changes nothing.
#pragma once

#include <algorithm>
#include <map>
#include <stdexcept>

#include "store/store.hpp"

namespace console::test {

class MemoryStore : public Store {
  public:
    void transaction(const std::function<void()>& fn) override {
        if (in_tx_) {
            fn();
            return;
        }
        const Data snapshot = data_;
        in_tx_ = true;
        try {
            fn();
        } catch (...) {
            data_ = snapshot;
            in_tx_ = false;
            throw;
        }
        in_tx_ = false;
    }

    std::int64_t add_firmware(const Firmware& f) override {
        write();
        for (const auto& [id, other] : data_.firmware) {
            if (other.product_key == f.product_key && other.module == f.module &&
                other.version == f.version) {
                throw ApiError(409, "conflict", "firmware " + f.version + " exists");
            }
        }
        Firmware copy = f;
        copy.id = ++data_.next_id;
        data_.firmware[copy.id] = copy;
        return copy.id;
    }
    std::optional<Firmware> firmware(std::int64_t id) override { return find(data_.firmware, id); }
    std::vector<Firmware> list_firmware(const std::string& pk, Page page) override {
        return list(data_.firmware, page,
                    [&](const Firmware& f) { return pk.empty() || f.product_key == pk; });
    }
    void set_firmware_verified(std::int64_t id, bool verified) override {
        const auto it = data_.firmware.find(id);
        if (it == data_.firmware.end()) throw not_found("firmware", id);
        write();
        it->second.verified = verified;
    }

    bool add_device(const Device& d) override {
        if (data_.devices.count(d.key) != 0) return false;
        write();
        Device copy = d;
        copy.tags = normalized(d.tags);
        data_.devices[d.key] = copy;
        return true;
    }
    std::optional<Device> device(const DeviceKey& key) override {
        const auto it = data_.devices.find(key);
        if (it == data_.devices.end()) return std::nullopt;
        return it->second;
    }
    std::vector<Device> list_devices(const DeviceFilter& f, const std::optional<DeviceKey>& after,
                                     std::size_t limit) override {
        std::vector<Device> out;
        for (const auto& [key, d] : data_.devices) {
            if (after && !(*after < key)) continue;
            if (!f.product_key.empty() && key.product_key != f.product_key) continue;
            if (!f.version.empty()) {
                const auto v = d.versions.find(f.module);
                if (v == d.versions.end() || v->second != f.version) continue;
            }
            if (f.online) {
                const bool online = d.last_seen_at != 0 && d.last_seen_at >= f.online_since;
                if (online != *f.online) continue;
            }
            if (!f.tag.empty() && std::find(d.tags.begin(), d.tags.end(), f.tag) == d.tags.end()) {
                continue;
            }
            if (out.size() == limit) break;
            out.push_back(d);
        }
        return out;
    }
    std::vector<Device> devices_of_product(const std::string& pk) override {
        std::vector<Device> out;
        for (const auto& [key, d] : data_.devices) {
            if (key.product_key == pk) out.push_back(d);
        }
        return out;
    }
    void set_device_version(const DeviceKey& key, const std::string& module,
                            const std::string& version, Millis at) override {
        const auto it = data_.devices.find(key);
        if (it == data_.devices.end()) return;
        write();
        it->second.versions[module] = version;
        it->second.last_seen_at = at;
    }
    void touch_device(const DeviceKey& key, Millis at) override {
        const auto it = data_.devices.find(key);
        if (it == data_.devices.end()) return;
        write();
        it->second.last_seen_at = at;
    }
    void set_device_tags(const DeviceKey& key, const std::vector<std::string>& tags) override {
        const auto it = data_.devices.find(key);
        if (it == data_.devices.end()) return;
        write();
        it->second.tags = normalized(tags);
    }
    std::map<std::string, std::int64_t> version_distribution(const std::string& pk,
                                                             const std::string& module) override {
        std::map<std::string, std::int64_t> out;
        for (const auto& [key, d] : data_.devices) {
            if (key.product_key != pk) continue;
            const auto v = d.versions.find(module);
            ++out[v == d.versions.end() ? std::string() : v->second];
        }
        return out;
    }

    std::int64_t add_rollout(const Rollout& r) override {
        write();
        Rollout copy = r;
        copy.id = ++data_.next_id;
        data_.rollouts[copy.id] = copy;
        return copy.id;
    }
    void update_rollout(const Rollout& r) override {
        const auto it = data_.rollouts.find(r.id);
        if (it == data_.rollouts.end()) throw not_found("rollout", r.id);
        write();
        it->second = r;
    }
    std::optional<Rollout> rollout(std::int64_t id) override { return find(data_.rollouts, id); }
    std::vector<Rollout> list_rollouts(Page page) override {
        return list(data_.rollouts, page, [](const Rollout&) { return true; });
    }
    std::vector<Rollout> active_rollouts() override {
        std::vector<Rollout> out;
        for (const auto& [id, r] : data_.rollouts) {
            if (r.state != RolloutState::completed && r.state != RolloutState::canceled) {
                out.push_back(r);
            }
        }
        return out;
    }

    void add_tasks(std::vector<Task>& tasks) override {
        write();
        for (auto& t : tasks) {
            t.id = ++data_.next_id;
            data_.tasks[t.id] = t;
        }
    }
    void update_task(const Task& t) override {
        const auto it = data_.tasks.find(t.id);
        if (it == data_.tasks.end()) throw not_found("task", t.id);
        write();
        it->second = t;
    }
    std::optional<Task> task(std::int64_t id) override { return find(data_.tasks, id); }
    std::vector<Task> tasks(const TaskFilter& f, Page page) override {
        return list(data_.tasks, page, [&](const Task& t) {
            return (f.rollout_id == 0 || t.rollout_id == f.rollout_id) &&
                   (!f.state || t.state == *f.state) && (!f.phase || t.phase == *f.phase) &&
                   (!f.device || t.device == *f.device);
        });
    }
    std::optional<Task> open_task(const DeviceKey& key, const std::string& module) override {
        for (const auto& [id, t] : data_.tasks) {
            if (t.device == key && t.module == module && !is_final(t.state)) return t;
        }
        return std::nullopt;
    }
    std::vector<Task> due_queued(std::int64_t rollout_id, Millis now, std::size_t limit) override {
        std::vector<Task> out;
        for (const auto& [id, t] : data_.tasks) {
            if (t.rollout_id == rollout_id && t.state == TaskState::queued && t.queued_at <= now) {
                out.push_back(t);
            }
        }
        std::stable_sort(out.begin(), out.end(),
                         [](const Task& a, const Task& b) { return a.queued_at < b.queued_at; });
        if (out.size() > limit) out.resize(limit);
        return out;
    }
    std::vector<Task> expired(Millis now, std::size_t limit) override {
        std::vector<Task> out;
        for (const auto& [id, t] : data_.tasks) {
            if ((t.state == TaskState::notified || t.state == TaskState::in_progress) &&
                t.deadline_at > 0 && t.deadline_at <= now && out.size() < limit) {
                out.push_back(t);
            }
        }
        return out;
    }
    TaskCounts task_counts(std::int64_t rollout_id) override {
        TaskCounts out;
        for (const auto& [id, t] : data_.tasks) {
            if (t.rollout_id == rollout_id) ++out[{t.phase, t.state}];
        }
        return out;
    }

    std::vector<Task> device_tasks(const DeviceKey& key, std::size_t limit) override {
        std::vector<Task> out;
        for (auto it = data_.tasks.rbegin(); it != data_.tasks.rend() && out.size() < limit; ++it) {
            if (it->second.device == key) out.push_back(it->second);
        }
        return out;
    }

    std::int64_t append_event(Event& e) override {
        write();
        e.seq = ++data_.next_seq;
        data_.events[e.seq] = e;
        return e.seq;
    }
    std::vector<Event> events_after(std::int64_t seq, std::size_t limit) override {
        std::vector<Event> out;
        for (auto it = data_.events.upper_bound(seq);
             it != data_.events.end() && out.size() < limit; ++it) {
            out.push_back(it->second);
        }
        return out;
    }
    void prune_events(Millis before) override {
        for (auto it = data_.events.begin(); it != data_.events.end();) {
            it = it->second.at < before ? data_.events.erase(it) : std::next(it);
        }
    }

    std::int64_t last_event_seq() override {
        return data_.events.empty() ? 0 : data_.events.rbegin()->first;
    }

    std::string shared_secret(const std::string& name,
                              const std::function<std::string()>& make) override {
        if (name.empty()) throw ApiError(400, "invalid_argument", "a setting needs a name");
        const auto it = data_.settings.find(name);
        if (it != data_.settings.end()) return it->second;
        std::string value = make();
        if (value.empty())
            throw std::runtime_error("the new value of setting " + name + " is empty");
        write();
        data_.settings[name] = value;
        return value;
    }

    bool try_become_scheduler() override { return true; }
    const char* kind() const noexcept override { return "memory"; }

    /// The n-th write from now (1 = the next) throws std::runtime_error("injected"); 0 = never.
    void fail_after(int n) { fail_in_ = n; }
    /// Writes so far (to enumerate crash points).
    [[nodiscard]] int writes() const { return writes_; }

  private:
    struct Data {
        std::int64_t next_id = 0;
        std::int64_t next_seq = 0;
        std::map<std::int64_t, Firmware> firmware;
        std::map<DeviceKey, Device> devices;
        std::map<std::int64_t, Rollout> rollouts;
        std::map<std::int64_t, Task> tasks;
        std::map<std::int64_t, Event> events;
        std::map<std::string, std::string> settings;
    };

    void write() {
        ++writes_;
        if (fail_in_ > 0 && --fail_in_ == 0) throw std::runtime_error("injected store failure");
    }
    // As the SQL stores: tags come back sorted and without duplicates; unknown ids are 404s.
    static std::vector<std::string> normalized(std::vector<std::string> tags) {
        std::sort(tags.begin(), tags.end());
        tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
        return tags;
    }
    static ApiError not_found(const std::string& what, std::int64_t id) {
        return ApiError(404, "not_found", what + " " + std::to_string(id) + " not found");
    }
    template <typename T>
    static std::optional<T> find(const std::map<std::int64_t, T>& m, std::int64_t id) {
        const auto it = m.find(id);
        if (it == m.end()) return std::nullopt;
        return it->second;
    }
    template <typename T, typename Pred>
    static std::vector<T> list(const std::map<std::int64_t, T>& m, Page page, Pred pred) {
        std::vector<T> out;
        for (auto it = m.upper_bound(page.after); it != m.end() && out.size() < page.limit; ++it) {
            if (pred(it->second)) out.push_back(it->second);
        }
        return out;
    }

    Data data_;
    bool in_tx_ = false;
    int fail_in_ = 0;
    int writes_ = 0;
};

}  // namespace console::test
