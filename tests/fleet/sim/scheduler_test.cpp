// Scheduler and RatePacer: tasks run when woken or when their timer is due, never concurrently
// with themselves, wakes coalesce, idle tasks cost no runs, and stop() ends everything.
#include "scheduler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace ota::fleet {
namespace {

using namespace std::chrono_literals;

// Counts its runs; optionally returns a timer `period` after each run.
class CountingTask final : public Task {
  public:
    explicit CountingTask(std::optional<std::chrono::milliseconds> period = std::nullopt)
        : period_(period) {}
    std::optional<SimClock::time_point> run(SimClock::time_point now) override {
        const int inside = inside_.fetch_add(1);
        if (inside != 0) overlapped_.store(true);
        runs_.fetch_add(1);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            times_.push_back(now);
            threads_.push_back(std::this_thread::get_id());
        }
        if (work_) std::this_thread::sleep_for(*work_);
        inside_.fetch_sub(1);
        if (period_) return now + *period_;
        return std::nullopt;
    }
    int runs() const { return runs_.load(); }
    bool overlapped() const { return overlapped_.load(); }
    std::vector<SimClock::time_point> times() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return times_;
    }
    std::vector<std::thread::id> thread_ids() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return threads_;
    }
    std::optional<std::chrono::milliseconds> work_;

  private:
    std::optional<std::chrono::milliseconds> period_;
    std::atomic<int> runs_{0};
    std::atomic<int> inside_{0};
    std::atomic<bool> overlapped_{false};
    mutable std::mutex mutex_;
    std::vector<SimClock::time_point> times_;
    std::vector<std::thread::id> threads_;
};

// Waits until `pred` holds or 2 s passed.
template <typename Pred>
bool eventually(Pred pred) {
    const auto deadline = SimClock::now() + 2s;
    while (SimClock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(1ms);
    }
    return pred();
}

TEST(Scheduler, RunsEveryTaskOnceAtStartThenOnlyWhenWoken) {
    Scheduler s(2);
    std::vector<std::unique_ptr<CountingTask>> tasks;
    for (int i = 0; i < 10; ++i) {
        tasks.push_back(std::make_unique<CountingTask>());
        EXPECT_EQ(s.add(*tasks.back()), static_cast<std::size_t>(i));
    }
    s.start();
    ASSERT_TRUE(eventually([&] {
        for (auto& t : tasks) {
            if (t->runs() != 1) return false;
        }
        return true;
    }));
    // Idle tasks: no run without a wake.
    std::this_thread::sleep_for(50ms);
    for (auto& t : tasks) EXPECT_EQ(t->runs(), 1);
    s.wake(3);
    ASSERT_TRUE(eventually([&] { return tasks[3]->runs() == 2; }));
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(tasks[3]->runs(), 2);
    EXPECT_EQ(tasks[4]->runs(), 1);
    s.stop();
    EXPECT_EQ(s.stats().runs, 11u);
}

TEST(Scheduler, ShardsTasksOverWorkersAndNeverRunsATaskConcurrently) {
    Scheduler s(3);
    std::vector<std::unique_ptr<CountingTask>> tasks;
    for (int i = 0; i < 6; ++i) {
        tasks.push_back(std::make_unique<CountingTask>());
        tasks.back()->work_ = 1ms;
        s.add(*tasks.back());
    }
    s.start();
    std::vector<std::thread> wakers;
    for (int w = 0; w < 4; ++w) {
        wakers.emplace_back([&] {
            for (int i = 0; i < 200; ++i) {
                s.wake(static_cast<std::size_t>(i % 6));
                std::this_thread::sleep_for(50us);
            }
        });
    }
    for (auto& t : wakers) t.join();
    s.wake(0);
    std::this_thread::sleep_for(50ms);
    s.stop();
    std::set<std::thread::id> all;
    for (int i = 0; i < 6; ++i) {
        EXPECT_FALSE(tasks[static_cast<std::size_t>(i)]->overlapped());
        const auto ids = tasks[static_cast<std::size_t>(i)]->thread_ids();
        ASSERT_FALSE(ids.empty());
        // A task always runs on the same worker (its shard).
        for (const auto& id : ids) EXPECT_EQ(id, ids.front());
        all.insert(ids.front());
    }
    EXPECT_EQ(all.size(), 3u);
    // 800 wakes of slow tasks coalesce: far fewer runs than wakes.
    EXPECT_LT(s.stats().runs, 800u);
}

TEST(Scheduler, WakesCoalesceWhileQueued) {
    Scheduler s(1);
    CountingTask blocker;
    blocker.work_ = 100ms;
    CountingTask t;
    s.add(blocker);
    s.add(t);
    s.start();
    // While the worker is busy with the blocker, many wakes of `t` queue it once.
    ASSERT_TRUE(eventually([&] { return t.runs() == 1; }));
    s.wake(0);
    std::this_thread::sleep_for(10ms);
    for (int i = 0; i < 100; ++i) s.wake(1);
    ASSERT_TRUE(eventually([&] { return t.runs() >= 2; }));
    std::this_thread::sleep_for(150ms);
    s.stop();  // before the tasks go (they must outlive the workers)
    EXPECT_EQ(t.runs(), 2);
}

TEST(Scheduler, TimersFireAtTheirDeadlineAndNotBefore) {
    Scheduler s(2);
    CountingTask periodic(30ms);
    s.add(periodic);
    const auto start = SimClock::now();
    s.start();
    ASSERT_TRUE(eventually([&] { return periodic.runs() >= 5; }));
    s.stop();
    const auto times = periodic.times();
    for (std::size_t i = 1; i < times.size(); ++i) {
        EXPECT_GE(times[i] - times[i - 1], 29ms) << "run " << i;
    }
    // About 30 ms apart, not busy-polled (the gaps above); the first run soon after start()
    // (a generous bound: CI runs this under TSan on a loaded machine).
    EXPECT_LT(times.front() - start, 1s);
}

TEST(Scheduler, AWakeBeforeTheTimerRunsEarlyAndTheNewDeadlineReplacesTheOld) {
    Scheduler s(1);
    CountingTask t(200ms);
    s.add(t);
    s.start();
    ASSERT_TRUE(eventually([&] { return t.runs() == 1; }));
    std::this_thread::sleep_for(50ms);
    s.wake(0);  // runs now (>= 50 ms after run 1); its new deadline is 200 ms from now
    ASSERT_TRUE(eventually([&] { return t.runs() >= 3; }));
    s.stop();
    // Only lower bounds (a loaded machine makes runs late, never early): had the first timer
    // (200 ms after run 1) survived the wake, run 3 would come <= 150 ms after run 2.
    const auto times = t.times();
    ASSERT_GE(times.size(), 3u);
    EXPECT_GE(times[1] - times[0], 50ms);
    EXPECT_GE(times[2] - times[1], 199ms);
}

TEST(Scheduler, StopEndsWaitingWorkersAndIgnoresLaterWakes) {
    Scheduler s(4);
    CountingTask t;
    s.add(t);
    s.start();
    ASSERT_TRUE(eventually([&] { return t.runs() == 1; }));
    const auto before = SimClock::now();
    s.stop();
    EXPECT_LT(SimClock::now() - before, 500ms);
    s.wake(0);
    s.wake(99);  // unknown id: ignored
    std::this_thread::sleep_for(10ms);
    EXPECT_EQ(t.runs(), 1);
    s.stop();  // idempotent
}

TEST(RatePacer, HandsOutSlotsAtTheRate) {
    RatePacer pacer(100);  // 10 ms apart
    const auto now = SimClock::now();
    const auto a = pacer.acquire(now);
    const auto b = pacer.acquire(now);
    const auto c = pacer.acquire(now);
    EXPECT_EQ(a, now);
    EXPECT_EQ(b - a, 10ms);
    EXPECT_EQ(c - b, 10ms);
    // Fallen behind: the next caller goes at once.
    const auto later = now + 1s;
    EXPECT_EQ(pacer.acquire(later), later);
}

TEST(RatePacer, UnlimitedAndConcurrent) {
    RatePacer unlimited(0);
    const auto now = SimClock::now();
    EXPECT_EQ(unlimited.acquire(now), now);
    EXPECT_EQ(unlimited.acquire(now), now);

    RatePacer pacer(1000);  // 1 ms apart
    std::vector<SimClock::time_point> got(400);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 100; ++i)
                got[static_cast<std::size_t>(t * 100 + i)] = pacer.acquire(now);
        });
    }
    for (auto& th : threads) th.join();
    std::sort(got.begin(), got.end());
    for (std::size_t i = 1; i < got.size(); ++i) EXPECT_EQ(got[i] - got[i - 1], 1ms);
}

}  // namespace
}  // namespace ota::fleet

namespace ota::fleet {
namespace {

TEST(Offloader, RunsPostedJobsOffTheCallersThreadAndStopDrainsTheQueue) {
    std::atomic<int> ran{0};
    std::atomic<bool> on_caller{false};
    const auto caller = std::this_thread::get_id();
    {
        Offloader off(2);
        for (int i = 0; i < 50; ++i) {
            off.post([&] {
                if (std::this_thread::get_id() == caller) on_caller.store(true);
                std::this_thread::sleep_for(std::chrono::microseconds(200));
                ran.fetch_add(1);
            });
        }
        off.stop();  // every queued job has run when stop() returns
        EXPECT_EQ(ran.load(), 50);
        // After stop() a job runs at once, on the caller's thread.
        bool inline_ran = false;
        off.post([&] { inline_ran = std::this_thread::get_id() == caller; });
        EXPECT_TRUE(inline_ran);
    }
    EXPECT_FALSE(on_caller.load());
}

TEST(Offloader, ABlockedJobDoesNotHoldUpTheOthers) {
    Offloader off(2);
    std::atomic<bool> release{false};
    std::atomic<int> quick{0};
    off.post([&] {
        while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
    for (int i = 0; i < 10; ++i) off.post([&] { quick.fetch_add(1); });
    EXPECT_TRUE(eventually([&] { return quick.load() == 10; }));
    release.store(true);
    off.stop();
}

}  // namespace
}  // namespace ota::fleet
