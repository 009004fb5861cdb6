// Scheduler: see scheduler.hpp. Timers are a min-heap per worker; a task's newest deadline is
// kept beside it, and heap entries that no longer match it (the task returned another deadline
// since) are dropped when they come up, so rescheduling never searches the heap.
#include "scheduler.hpp"

#include <algorithm>
#include <functional>
#include <queue>
#include <utility>

namespace ota::fleet {

namespace {
constexpr SimClock::time_point kNever = SimClock::time_point::max();
}  // namespace

struct Scheduler::Worker {
    using Entry = std::pair<SimClock::time_point, std::size_t>;
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<std::size_t> ready;  // woken task ids, in order
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> timers;
    std::vector<SimClock::time_point> deadline;  // by task id / shard count; guarded by mutex
    std::atomic<std::uint64_t> runs{0};
    std::atomic<std::uint64_t> wakes{0};
    std::atomic<std::uint64_t> busy_ns{0};
    std::atomic<std::uint64_t> max_run_ns{0};
    std::atomic<std::uint64_t> slow_runs{0};
    std::thread thread;
};

Scheduler::Scheduler(std::size_t threads) {
    threads = std::max<std::size_t>(threads, 1);
    for (std::size_t i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>());
}

Scheduler::~Scheduler() {
    stop();
}

std::size_t Scheduler::add(Task& task) {
    const std::size_t id = slots_.size();
    auto slot = std::make_unique<Slot>();
    slot->task = &task;
    slot->queued.store(true);
    slots_.push_back(std::move(slot));
    Worker& w = *workers_[id % workers_.size()];
    std::lock_guard<std::mutex> lock(w.mutex);
    w.ready.push_back(id);
    w.deadline.push_back(kNever);
    return id;
}

void Scheduler::start() {
    if (started_) return;
    started_ = true;
    for (auto& w : workers_) {
        Worker* worker = w.get();
        worker->thread = std::thread([this, worker] { worker_loop(*worker); });
    }
}

void Scheduler::wake(std::size_t id) noexcept {
    if (id >= slots_.size() || stopping_.load(std::memory_order_relaxed)) return;
    if (slots_[id]->queued.exchange(true)) return;
    Worker& w = *workers_[id % workers_.size()];
    {
        std::lock_guard<std::mutex> lock(w.mutex);
        w.ready.push_back(id);
    }
    w.wakes.fetch_add(1, std::memory_order_relaxed);
    w.cv.notify_one();
}

void Scheduler::stop() noexcept {
    stopping_.store(true);
    for (auto& w : workers_) {
        { std::lock_guard<std::mutex> lock(w->mutex); }
        w->cv.notify_all();
    }
    for (auto& w : workers_) {
        if (w->thread.joinable()) w->thread.join();
    }
}

Scheduler::Stats Scheduler::stats() const noexcept {
    Stats s;
    for (const auto& w : workers_) {
        s.runs += w->runs.load(std::memory_order_relaxed);
        s.wakes += w->wakes.load(std::memory_order_relaxed);
        s.busy_ns += w->busy_ns.load(std::memory_order_relaxed);
        s.max_run_ns = std::max(s.max_run_ns, w->max_run_ns.load(std::memory_order_relaxed));
        s.slow_runs += w->slow_runs.load(std::memory_order_relaxed);
    }
    return s;
}

void Scheduler::worker_loop(Worker& w) {
    const std::size_t shards = workers_.size();
    std::vector<std::size_t> batch;
    while (true) {
        batch.clear();
        {
            std::unique_lock<std::mutex> lock(w.mutex);
            while (true) {
                if (stopping_.load()) return;
                const auto now = SimClock::now();
                while (!w.timers.empty() && w.timers.top().first <= now) {
                    const auto [when, id] = w.timers.top();
                    w.timers.pop();
                    // Stale entry: the task has been given another deadline since.
                    if (w.deadline[id / shards] != when) continue;
                    w.deadline[id / shards] = kNever;
                    if (!slots_[id]->queued.exchange(true)) w.ready.push_back(id);
                }
                if (!w.ready.empty()) break;
                if (w.timers.empty()) {
                    w.cv.wait(lock);
                } else {
                    w.cv.wait_until(lock, w.timers.top().first);
                }
            }
            batch.swap(w.ready);
        }
        for (const std::size_t id : batch) {
            if (stopping_.load(std::memory_order_relaxed)) return;
            Slot& slot = *slots_[id];
            // Cleared before running: a wake that arrives during run() queues the task again.
            slot.queued.store(false);
            const auto began = SimClock::now();
            const std::optional<SimClock::time_point> next = slot.task->run(began);
            const auto took = static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(SimClock::now() - began)
                    .count());
            w.runs.fetch_add(1, std::memory_order_relaxed);
            w.busy_ns.fetch_add(took, std::memory_order_relaxed);
            if (took > w.max_run_ns.load(std::memory_order_relaxed)) {
                w.max_run_ns.store(took, std::memory_order_relaxed);  // only this worker writes
            }
            if (took >= static_cast<std::uint64_t>(std::chrono::nanoseconds(kSlowRun).count())) {
                w.slow_runs.fetch_add(1, std::memory_order_relaxed);
            }
            std::lock_guard<std::mutex> lock(w.mutex);
            const SimClock::time_point when = next.value_or(kNever);
            w.deadline[id / shards] = when;
            if (next) w.timers.emplace(when, id);
        }
    }
}

Offloader::Offloader(std::size_t threads) {
    threads = std::max<std::size_t>(threads, 1);
    for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
}

Offloader::~Offloader() {
    stop();
}

void Offloader::post(std::function<void()> job) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!stopping_) {
            jobs_.push_back(std::move(job));
            cv_.notify_one();
            return;
        }
    }
    job();
}

void Offloader::stop() noexcept {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) {
        if (t.joinable()) t.join();
    }
}

void Offloader::loop() {
    while (true) {
        std::function<void()> job;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            if (jobs_.empty()) return;  // stopping, and everything ran
            job = std::move(jobs_.front());
            jobs_.pop_front();
        }
        job();
    }
}

RatePacer::RatePacer(double per_second)
    : interval_ns_(per_second > 0 ? static_cast<std::int64_t>(1e9 / per_second) : 0) {}

SimClock::time_point RatePacer::acquire(SimClock::time_point now) noexcept {
    if (interval_ns_ <= 0) return now;
    const std::int64_t now_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    std::int64_t next = next_ns_.load(std::memory_order_relaxed);
    std::int64_t slot = 0;
    do {
        slot = std::max(next, now_ns);
    } while (!next_ns_.compare_exchange_weak(next, slot + interval_ns_, std::memory_order_relaxed));
    return SimClock::time_point(std::chrono::nanoseconds(slot));
}

}  // namespace ota::fleet
