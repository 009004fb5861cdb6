// Restart after a crash at every step of a rollout.
//
// Why this test: the engine promises that a console killed at any moment continues correctly
// from the store alone. The script below runs a three-phase rollout over twelve scripted
// devices (failures, a rollback, timeouts, retries, firmware/get requests, a pause and a resume
// by an operator); its second form is dynamic, takes a device that reports later, and is
// canceled by the operator midway. A
// clean run counts its store writes W; then for every n in 1..W the script runs again with the
// n-th write throwing (MemoryStore::fail_after): the transaction in progress is rolled back, the
// Engine is dropped and a new one is built on the same store, and the interrupted step is done
// again (a device's unacknowledged QoS 1 message is delivered again, the scheduler ticks again,
// an API client retries). Every run must end with the same tasks in the same states as the
// clean run: nothing lost, nothing duplicated, no extra push.
#include <map>
#include <tuple>

#include "engine_fixture.hpp"

namespace console::test {
namespace {

/// One device message the scripted fleet sends.
struct Message {
    Millis at = 0;
    std::string device;
    int step = 0;         ///< progress step, when version is empty
    std::string version;  ///< a version report when set
};

/// Message::step of a firmware/get request.
constexpr int kGet = 1000;

struct Outcome {
    /// device -> (state, attempt, phase, reason)
    std::map<std::string, std::tuple<TaskState, std::uint32_t, std::uint32_t, std::string>> tasks;
    std::map<std::string, int> pushes;  ///< device -> pushes received
    RolloutState rollout = RolloutState::scheduled;
    std::size_t task_count = 0;
    int crashes = 0;
    int writes = 0;
};

class CrashScript {
  public:
    /// `fail_at`: the write that throws (0 = none); `cancel`: the dynamic form, canceled midway.
    CrashScript(int fail_at, bool cancel) : fail_at_(fail_at), cancel_(cancel) {}

    Outcome run() {
        Firmware f;
        f.product_key = kPk;
        f.version = "2.0";
        f.size = 10;
        f.md5 = std::string(32, 'a');
        f.sha256 = std::string(64, 'b');
        f.verified = true;
        f.id = store_.add_firmware(f);
        for (int i = 0; i < 12; ++i) {
            Device d;
            d.key = {kPk, dn(i)};
            d.versions[kDefaultModule] = "1.0";
            store_.add_device(d);
        }
        Device late;  // registered, reports its version only later
        late.key = {kPk, dn(12)};
        store_.add_device(late);
        restart();
        const int setup_writes = store_.writes();
        store_.fail_after(fail_at_);

        Rollout spec;
        spec.firmware_id = f.id;
        spec.policy.retry_count = 1;
        spec.policy.retry_interval_s = 10;
        spec.policy.task_timeout_s = 30;
        // The push-rate budget is rebuilt from the tasks after a restart, but a task pushed twice
        // in one minute counts once there (notified_at holds its newest push): a restart may let
        // one more push through. The static form's end does not depend on when pushes go out;
        // the canceled form's does (what is pushed before the cancel), so it runs unlimited.
        spec.policy.push_rate_per_minute = cancel_ ? 0 : 4;
        spec.selection.source_versions = {"1.0"};
        spec.dynamic = cancel_;
        for (const auto& [devices, percent] : {std::pair{2u, 0u}, {0u, 50u}, {0u, 0u}}) {
            Phase p;
            p.devices = devices;
            p.percent = percent;
            p.success_percent = 70;
            p.max_failures = 3;
            spec.phases.push_back(p);
        }
        std::int64_t id = 0;
        call([&] { id = engine_->create_rollout(spec).id; });

        std::size_t seen = 0;
        std::map<std::string, int> attempts;
        std::vector<Message> pending;
        for (int second = 0; second < 1000; ++second) {
            if (second == 5) call([&] { engine_->pause(id); });
            if (second == 8) call([&] { engine_->resume(id); });
            if (second == 20) {
                call([&] { engine_->on_inform({kPk, dn(12)}, kDefaultModule, "1.0"); });
            }
            if (second == 45 && cancel_) call([&] { engine_->cancel(id); });
            call([&] { engine_->tick(); });
            for (; seen < publisher_.sent.size(); ++seen) {
                const std::string d = publisher_.devices(seen).front();
                plan(d, ++attempts[d], pending);
            }
            clock_.advance_s(1);
            for (std::size_t i = 0; i < pending.size();) {
                if (pending[i].at > clock_.t) {
                    ++i;
                    continue;
                }
                const Message m = pending[i];
                pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
                const DeviceKey key{kPk, m.device};
                if (m.step == kGet) {
                    call([&] { (void)engine_->on_firmware_get(key, kDefaultModule, "1"); });
                } else if (m.version.empty()) {
                    call([&] { engine_->on_progress(key, kDefaultModule, m.step, ""); });
                } else {
                    call([&] { engine_->on_inform(key, kDefaultModule, m.version); });
                }
            }
            const RolloutState s = store_.rollout(id)->state;
            if (pending.empty() && (s == RolloutState::completed || s == RolloutState::canceled)) {
                break;
            }
        }

        Outcome out;
        TaskFilter filter;
        filter.rollout_id = id;
        for (const Task& t : store_.tasks(filter, Page{0, 1000})) {
            EXPECT_EQ(out.tasks.count(t.device.device_name), 0u) << "two tasks of one device";
            out.tasks[t.device.device_name] = {t.state, t.attempt, t.phase, t.reason};
            ++out.task_count;
        }
        out.pushes = attempts;
        out.rollout = store_.rollout(id)->state;
        out.crashes = crashes_;
        out.writes = store_.writes() - setup_writes;
        return out;
    }

  private:
    /// What device `d` does with its `attempt`-th push.
    void plan(const std::string& d, int attempt, std::vector<Message>& out) const {
        const int i = std::stoi(d.substr(1));
        const Millis t = clock_.t;
        auto progress = [&](int after_s, int step) {
            out.push_back({t + after_s * 1000, d, step, ""});
        };
        auto report = [&](int after_s, const std::string& v) {
            out.push_back({t + after_s * 1000, d, 0, v});
        };
        if (i == 11) return;             // never answers: times out twice
        if (i == 10) progress(1, kGet);  // asks for its job (the reply repeats the push)
        if (attempt == 1 && i % 4 == 0) {
            progress(1, 0);
            progress(2, -2);
        } else if (attempt == 1 && i == 5) {
            progress(1, 0);
            progress(2, 50);  // then silent: times out from its first progress
        } else if (attempt == 1 && i == 6) {
            progress(1, 0);
            progress(2, 100);
            report(3, "1.0");  // rolled back
        } else {
            progress(1, 0);
            progress(2, 50);
            progress(3, 100);
            report(4, "2.0");
        }
    }

    void restart() {
        engine_ = std::make_unique<Engine>(store_, clock_, publisher_,
                                           [](const Firmware&) { return std::string("u"); });
    }

    /// Runs one step; after an injected failure ("crash") a new engine does it again.
    template <typename F>
    void call(F fn) {
        try {
            fn();
        } catch (const ApiError&) {
            throw;
        } catch (const std::runtime_error& e) {
            if (std::string(e.what()) != "injected store failure") throw;
            ++crashes_;
            restart();
            fn();
        }
    }

    int fail_at_;
    bool cancel_;
    MemoryStore store_;
    FakeClock clock_;
    RecordingPublisher publisher_{clock_};
    std::unique_ptr<Engine> engine_;
    int crashes_ = 0;
};

TEST(EngineCrashTest, CleanRunOfTheScript) {
    const Outcome clean = CrashScript(0, false).run();
    EXPECT_EQ(clean.rollout, RolloutState::completed);
    EXPECT_EQ(clean.task_count, 12u);  // static: the late device is not taken
    for (int i = 0; i < 11; ++i) {
        EXPECT_EQ(std::get<0>(clean.tasks.at(dn(i))), TaskState::succeeded) << dn(i);
    }
    EXPECT_EQ(std::get<0>(clean.tasks.at(dn(11))), TaskState::timed_out);
    EXPECT_EQ(std::get<1>(clean.tasks.at(dn(11))), 2u);
    EXPECT_EQ(std::get<1>(clean.tasks.at(dn(4))), 2u);  // failed once, retried
    EXPECT_EQ(std::get<1>(clean.tasks.at(dn(5))), 2u);  // timed out once
    EXPECT_EQ(std::get<1>(clean.tasks.at(dn(6))), 2u);  // rolled back once
    EXPECT_EQ(std::get<1>(clean.tasks.at(dn(1))), 1u);
    EXPECT_EQ(std::get<2>(clean.tasks.at(dn(1))), 0u);
    EXPECT_EQ(std::get<2>(clean.tasks.at(dn(7))), 1u);
    EXPECT_EQ(std::get<2>(clean.tasks.at(dn(8))), 2u);
    EXPECT_EQ(clean.crashes, 0);
    EXPECT_GT(clean.writes, 100);
}

TEST(EngineCrashTest, CleanRunOfTheCanceledForm) {
    const Outcome clean = CrashScript(0, true).run();
    EXPECT_EQ(clean.rollout, RolloutState::canceled);
    EXPECT_EQ(clean.task_count, 13u);  // dynamic: the late device joined
    std::map<TaskState, int> states;
    for (const auto& [name, t] : clean.tasks) ++states[std::get<0>(t)];
    EXPECT_GT(states[TaskState::canceled], 0);
    EXPECT_GT(states[TaskState::succeeded], 0);
    EXPECT_EQ(
        states[TaskState::queued] + states[TaskState::notified] + states[TaskState::in_progress],
        0);
}

class EngineCrashEveryWrite : public ::testing::TestWithParam<bool> {};

TEST_P(EngineCrashEveryWrite, EndsAsTheCleanRun) {
    const Outcome clean = CrashScript(0, GetParam()).run();
    ASSERT_EQ(clean.rollout, GetParam() ? RolloutState::canceled : RolloutState::completed);
    for (int n = 1; n <= clean.writes; ++n) {
        const Outcome crashed = CrashScript(n, GetParam()).run();
        ASSERT_EQ(crashed.crashes, 1) << "write " << n;
        EXPECT_EQ(crashed.rollout, clean.rollout) << "crash at write " << n;
        EXPECT_EQ(crashed.task_count, clean.task_count) << "crash at write " << n;
        EXPECT_EQ(crashed.tasks, clean.tasks) << "crash at write " << n;
        EXPECT_EQ(crashed.pushes, clean.pushes) << "crash at write " << n;
        if (HasFailure()) break;  // one failing crash point is enough to read
    }
}

INSTANTIATE_TEST_SUITE_P(Forms, EngineCrashEveryWrite, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                             return std::string(p.param ? "DynamicCanceled" : "ThreePhases");
                         });

}  // namespace
}  // namespace console::test
