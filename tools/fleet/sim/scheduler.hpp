// The fleet's scheduler: a few worker threads run thousands of simulated devices, each only when
// something happened for it (a wake-up from a network thread or a due timer).
//
// Why not a thread per device: 10,000 devices would be 10,000 stacks and a scheduler storm; why
// not a loop over all devices: idle devices (almost all of them, most of the time) would cost CPU
// for nothing. Each worker owns a shard (task id % threads), a queue of woken tasks and a heap of
// timers; it sleeps on a condition variable until one of them has work.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace ota::fleet {

/// The clock of the scheduler and of every measure of the fleet.
using SimClock = std::chrono::steady_clock;

/// Something the scheduler runs: a simulated device in production, a fake in tests.
class Task {
  public:
    virtual ~Task() = default;
    /// Does whatever is due and returns when the task wants to run again at the latest (nullopt:
    /// only when woken). Runs on the task's worker thread, never concurrently with itself. Must
    /// not block for long: every other task of the shard waits meanwhile.
    virtual std::optional<SimClock::time_point> run(SimClock::time_point now) = 0;
};

/// K worker threads, each running the tasks of its shard when woken or when their timer is due.
class Scheduler {
  public:
    /// Counters for the status line and the tests (read while running: approximate).
    struct Stats {
        std::uint64_t runs = 0;     ///< Task::run() calls
        std::uint64_t wakes = 0;    ///< wake() calls that queued a task (coalesced ones excluded)
        std::uint64_t busy_ns = 0;  ///< time spent inside Task::run(), all workers
        std::uint64_t max_run_ns = 0;  ///< longest single Task::run()
        std::uint64_t slow_runs = 0;   ///< runs longer than kSlowRun (a shard waited that long)
    };
    /// A run at least this long counts as slow (Stats::slow_runs).
    static constexpr std::chrono::milliseconds kSlowRun{50};

    /// `threads` workers (at least 1).
    explicit Scheduler(std::size_t threads);
    /// Stops and joins the workers.
    ~Scheduler();
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    /// Adds a task (not owned; it must outlive the scheduler's stop()) before start(). Returns its
    /// id, for wake(). A new task runs once right after start().
    std::size_t add(Task& task);
    /// Starts the workers (once).
    void start();
    /// Makes the task run soon on its worker. Thread-safe, never blocks for long, may be called
    /// from any thread (network callbacks) and from a task itself; wakes of a task that is
    /// already queued are coalesced. Ignored for unknown ids and after stop().
    void wake(std::size_t id) noexcept;
    /// Ends the workers after their current task and joins them (idempotent).
    void stop() noexcept;
    /// Number of worker threads.
    [[nodiscard]] std::size_t threads() const noexcept { return workers_.size(); }
    /// Sum of the workers' counters.
    [[nodiscard]] Stats stats() const noexcept;

  private:
    struct Worker;
    struct Slot {
        Task* task = nullptr;
        std::atomic<bool> queued{false};
    };
    void worker_loop(Worker& w);

    std::vector<std::unique_ptr<Worker>> workers_;
    std::vector<std::unique_ptr<Slot>> slots_;
    std::atomic<bool> stopping_{false};
    bool started_ = false;
};

/// A few threads for calls that wait on the network without needing the device's worker (a
/// graceful MQTT disconnect waits for paho's send thread, which a fleet keeps busy): the worker
/// posts them here and goes on with the other devices of its shard.
class Offloader {
  public:
    /// `threads` threads (at least 1), started at once.
    explicit Offloader(std::size_t threads);
    /// Runs what is queued, then joins (see stop()).
    ~Offloader();
    Offloader(const Offloader&) = delete;
    Offloader& operator=(const Offloader&) = delete;
    /// Queues `job` (thread-safe). After stop() the job runs on the caller's thread.
    void post(std::function<void()> job);
    /// Runs every queued job, then ends and joins the threads (idempotent).
    void stop() noexcept;

  private:
    void loop();
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

/// Hands out start times at a fixed rate (connects per second) to any number of threads: the
/// n-th caller gets start + n / rate, or now if the pacer has fallen behind.
class RatePacer {
  public:
    /// `per_second` <= 0 means unlimited (every call gets `now`).
    explicit RatePacer(double per_second);
    /// The time at which the caller may go (>= now). Thread-safe, lock-free.
    SimClock::time_point acquire(SimClock::time_point now) noexcept;

  private:
    std::int64_t interval_ns_;
    std::atomic<std::int64_t> next_ns_{0};
};

}  // namespace ota::fleet
