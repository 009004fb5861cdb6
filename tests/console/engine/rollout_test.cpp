// Engine tests of the rollout operations: creation rules, phases and gates, verify and force,
// pause / resume, cancel, retry_failed, start and end time.
#include "engine_fixture.hpp"

namespace console::test {
namespace {

class RolloutTest : public EngineTest {};

Phase phase(std::uint32_t devices, std::uint32_t percent, std::uint32_t success = 100,
            std::uint32_t max_failures = 0, bool manual = false) {
    Phase p;
    p.devices = devices;
    p.percent = percent;
    p.success_percent = success;
    p.max_failures = max_failures;
    p.manual = manual;
    return p;
}

template <typename F>
void expect_api_error(F fn, int status, const std::string& code, const std::string& field) {
    try {
        fn();
        ADD_FAILURE() << "no ApiError";
    } catch (const ApiError& e) {
        EXPECT_EQ(e.http_status(), status) << e.what();
        EXPECT_EQ(e.code(), code) << e.what();
        EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
}

TEST_P(RolloutTest, CreateFillsProductAndDefaultPhaseAndStartsInTick) {
    const Firmware f = add_firmware("2.0");
    add_devices(0, 3, "1.0");
    const Rollout r = engine->create_rollout(spec(f));
    EXPECT_EQ(r.state, RolloutState::scheduled);
    EXPECT_EQ(r.selection.product_key, kPk);
    ASSERT_EQ(r.phases.size(), 1u);
    EXPECT_TRUE(tasks_of(r.id).empty());  // tasks are made when it starts
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::running);
    EXPECT_EQ(tasks_of(r.id).size(), 3u);
    EXPECT_EQ(publisher.sent.size(), 3u);
}

TEST_P(RolloutTest, CreateRefusesBadRequests) {
    const Firmware f = add_firmware("2.0");
    Rollout s = spec(f);
    s.firmware_id = 999;
    expect_api_error([&] { engine->create_rollout(s); }, 404, "not_found", "firmware_id");
    s = spec(f);
    s.selection.product_key = "other";
    expect_api_error([&] { engine->create_rollout(s); }, 400, "invalid_argument",
                     "selection.product_key");
    s = spec(f, {phase(0, 0), phase(2, 0)});
    expect_api_error([&] { engine->create_rollout(s); }, 400, "invalid_argument", "phases[0]");
    s = spec(f, {phase(2, 10)});
    expect_api_error([&] { engine->create_rollout(s); }, 400, "invalid_argument", "phases[0]");
    s = spec(f);
    s.policy.end_at = clock.t - 1;
    expect_api_error([&] { engine->create_rollout(s); }, 400, "invalid_argument", "policy.end_at");
    expect_api_error([&] { engine->pause(12345); }, 404, "not_found", "rollout");
    expect_api_error([&] { (void)engine->view(12345); }, 404, "not_found", "rollout");
    Page all{0, 100};
    EXPECT_TRUE(store->list_rollouts(all).empty());
}

TEST_P(RolloutTest, ForceRuleForUnverifiedFirmware) {
    const Firmware f = add_firmware("2.0", /*verified=*/false);
    add_devices(0, 2, "1.0");
    expect_api_error([&] { engine->create_rollout(spec(f)); }, 409, "failed_precondition", "force");
    expect_api_error([&] { (void)engine->preview(spec(f)); }, 409, "failed_precondition", "force");
    Rollout s = spec(f);
    s.force = true;
    EXPECT_EQ(engine->preview(s), 2);
    EXPECT_NO_THROW(engine->create_rollout(s));
}

TEST_P(RolloutTest, VerifyRolloutMarksFirmwareVerified) {
    const Firmware f = add_firmware("2.0", /*verified=*/false);
    add_devices(0, 4, "1.0");
    Rollout s = spec(f);
    s.kind = RolloutKind::verify;
    expect_api_error([&] { engine->create_rollout(s); }, 400, "invalid_argument",
                     "selection.device_names");
    s.selection.device_names = {dn(0), "ghost"};
    expect_api_error([&] { engine->create_rollout(s); }, 400, "invalid_argument", "ghost");
    s.selection.device_names = {dn(0), dn(1)};
    s.phases = {phase(1, 0), phase(0, 0)};
    expect_api_error([&] { engine->create_rollout(s); }, 400, "invalid_argument", "phases");
    s.phases.clear();
    const Rollout r = engine->create_rollout(s);
    engine->tick();
    EXPECT_EQ(publisher.devices(), (std::vector<std::string>{dn(0), dn(1)}));
    upgrade(dn(0), "2.0");
    engine->tick();
    EXPECT_FALSE(store->firmware(f.id)->verified);  // one of two is not enough
    upgrade(dn(1), "2.0");
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::completed);
    EXPECT_TRUE(store->firmware(f.id)->verified);
    bool event = false;
    for (const Event& e : store->events_after(0, 10000)) {
        if (e.type == "firmware" && e.json.find("\"verified\":true") != std::string::npos) {
            event = true;
        }
    }
    EXPECT_TRUE(event);
    EXPECT_NO_THROW(engine->create_rollout(spec(f)));  // no force needed any more
}

TEST_P(RolloutTest, VerifyRolloutWithAFailureDoesNotVerify) {
    const Firmware f = add_firmware("2.0", /*verified=*/false);
    add_devices(0, 2, "1.0");
    Rollout s = spec(f);
    s.kind = RolloutKind::verify;
    s.selection.device_names = {dn(0), dn(1)};
    const Rollout r = engine->create_rollout(s);
    engine->tick();
    upgrade(dn(0), "2.0");
    EXPECT_TRUE(progress(dn(1), -3, "bad sha"));
    engine->tick();
    // Ended, not paused by an abort gate: there is nothing left to decide for a person.
    EXPECT_EQ(rollout(r.id).state, RolloutState::completed);
    EXPECT_EQ(rollout(r.id).reason, "not verified: not every device succeeded");
    EXPECT_FALSE(store->firmware(f.id)->verified);
}

TEST_P(RolloutTest, SelectionCriteriaAreAnded) {
    const Firmware f = add_firmware("2.0");
    add_devices(0, 4, "1.0", {"lab"});
    add_devices(4, 4, "1.1", {"lab"});
    add_devices(8, 4, "1.0");
    add_devices(12, 2, "2.0", {"lab"});  // at the target already
    Rollout p = spec(f);
    EXPECT_EQ(engine->preview(p), 12);  // 14 devices; the two at 2.0 get no task
    p.selection.tag = "lab";
    EXPECT_EQ(engine->preview(p), 8);
    p.selection.source_versions = {"1.0"};
    EXPECT_EQ(engine->preview(p), 4);
    p.selection.device_names = {dn(1), dn(5), dn(9)};
    EXPECT_EQ(engine->preview(p), 1);
    Rollout s = spec(f);
    s.selection.tag = "lab";
    EXPECT_EQ(engine->preview(s), 8);  // the two at 2.0 get no task
    const Rollout r = engine->create_rollout(s);
    engine->tick();
    EXPECT_EQ(tasks_of(r.id).size(), 8u);
    bool counted = false;
    for (const Event& e : store->events_after(0, 10000)) {
        if (e.type == "rollout" && e.json.find("\"skipped_at_target\":2") != std::string::npos) {
            counted = true;
        }
    }
    EXPECT_TRUE(counted);
}

TEST_P(RolloutTest, PercentSelectionIsStable) {
    const Firmware f = add_firmware("2.0");
    add_devices(0, 100, "1.0");
    Rollout s = spec(f);
    s.selection.percent = 30;
    const std::int64_t n = engine->preview(s);
    EXPECT_GT(n, 10);
    EXPECT_LT(n, 50);
    const Rollout r = engine->create_rollout(s);
    engine->tick();
    EXPECT_EQ(static_cast<std::int64_t>(tasks_of(r.id).size()), n);
    s.selection.percent = 100;
    EXPECT_EQ(engine->preview(s), 100 - n);  // the rest are busy now
}

TEST_P(RolloutTest, DevicesWithAnOpenTaskGetNoSecondOne) {
    const Firmware f = add_firmware("2.0");
    const Firmware g = add_firmware("3.0");
    add_devices(0, 3, "1.0");
    Rollout s = spec(f);
    s.selection.device_names = {dn(0)};
    engine->create_rollout(s);
    engine->tick();
    const Rollout r2 = engine->create_rollout(spec(g));
    engine->tick();
    EXPECT_EQ(tasks_of(r2.id).size(), 2u);
    EXPECT_NE(task(dn(0)).rollout_id, r2.id);
}

TEST_P(RolloutTest, PhasesAdvanceThroughTheSuccessGate) {
    const Firmware f = add_firmware("2.0");
    add_devices(0, 10, "1.0");
    const Rollout r = engine->create_rollout(spec(f, {phase(2, 0), phase(0, 50), phase(0, 0)}));
    engine->tick();
    EXPECT_EQ(publisher.devices(), (std::vector<std::string>{dn(0), dn(1)}));
    // later phases' tasks exist, but are not due
    EXPECT_EQ(tasks_of(r.id).size(), 10u);
    EXPECT_EQ(count(r.id, TaskState::queued), 8);
    EXPECT_EQ(task(dn(5)).queued_at, kNotDue);
    upgrade(dn(0), "2.0");
    engine->tick();
    EXPECT_EQ(publisher.sent.size(), 2u);  // phase 1 still open
    clock.advance_s(3);
    upgrade(dn(1), "2.0");
    engine->tick();
    EXPECT_EQ(rollout(r.id).current_phase, 1u);
    EXPECT_EQ(task(dn(5)).notified_at, clock.t);
    EXPECT_EQ(task(dn(9)).queued_at, kNotDue);
    EXPECT_EQ(publisher.sent.size(), 7u);  // 50 % of 10
    for (int i = 2; i < 7; ++i) upgrade(dn(i), "2.0");
    engine->tick();
    EXPECT_EQ(rollout(r.id).current_phase, 2u);
    EXPECT_EQ(publisher.sent.size(), 10u);
    for (int i = 7; i < 10; ++i) upgrade(dn(i), "2.0");
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::completed);
    EXPECT_EQ(count(r.id, TaskState::succeeded), 10);
}

TEST_P(RolloutTest, SuccessGateBelowPausesAndResumeMovesOn) {
    const Firmware f = add_firmware("2.0");
    add_devices(0, 6, "1.0");
    const Rollout r =
        engine->create_rollout(spec(f, {phase(4, 0, 75, /*max_failures=*/5), phase(0, 0)}));
    engine->tick();
    upgrade(dn(0), "2.0");
    upgrade(dn(1), "2.0");
    EXPECT_TRUE(progress(dn(2), -2, "404"));
    EXPECT_TRUE(progress(dn(3), -2, "404"));
    engine->tick();
    Rollout now = rollout(r.id);
    EXPECT_EQ(now.state, RolloutState::paused);
    EXPECT_NE(now.reason.find("50 % succeeded"), std::string::npos) << now.reason;
    EXPECT_EQ(publisher.sent.size(), 4u);
    engine->resume(r.id);  // the operator accepts the phase
    EXPECT_EQ(rollout(r.id).current_phase, 1u);
    engine->tick();
    EXPECT_EQ(publisher.sent.size(), 6u);
}

TEST_P(RolloutTest, SuccessGateExactlyAtThresholdPasses) {
    const Firmware f = add_firmware("2.0");
    add_devices(0, 5, "1.0");
    const Rollout r =
        engine->create_rollout(spec(f, {phase(4, 0, 75, /*max_failures=*/1), phase(0, 0)}));
    engine->tick();
    for (int i = 0; i < 3; ++i) upgrade(dn(i), "2.0");
    EXPECT_TRUE(progress(dn(3), -1));
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::running);
    EXPECT_EQ(rollout(r.id).current_phase, 1u);
}

TEST_P(RolloutTest, ManualGatePausesForAPerson) {
    const Firmware f = add_firmware("2.0");
    add_devices(0, 3, "1.0");
    const Rollout r =
        engine->create_rollout(spec(f, {phase(1, 0, 100, 0, /*manual=*/true), phase(0, 0)}));
    engine->tick();
    upgrade(dn(0), "2.0");
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::paused);
    engine->tick();
    EXPECT_EQ(publisher.sent.size(), 1u);
    EXPECT_EQ(engine->resume(r.id).current_phase, 1u);
    engine->tick();
    EXPECT_EQ(publisher.sent.size(), 3u);
}

TEST_P(RolloutTest, AbortGatePausesAndMessagesStillApply) {
    const Firmware f = add_firmware("2.0");
    add_devices(0, 5, "1.0");
    const Rollout r = engine->create_rollout(spec(f, {phase(0, 0, 0, /*max_failures=*/1)}));
    engine->tick();
    EXPECT_TRUE(progress(dn(0), -2));
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::running);  // 1 is allowed
    EXPECT_TRUE(progress(dn(1), -4, "flash"));
    engine->tick();
    Rollout now = rollout(r.id);
    EXPECT_EQ(now.state, RolloutState::paused);
    EXPECT_NE(now.reason.find("2 tasks failed"), std::string::npos) << now.reason;
    upgrade(dn(2), "2.0");  // a paused rollout's devices still report
    EXPECT_EQ(task(dn(2)).state, TaskState::succeeded);
    engine->resume(r.id);
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::running);  // resume accepted the 2 failures
    EXPECT_TRUE(progress(dn(3), -2));
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::paused);  // a new failure pauses again
}

TEST_P(RolloutTest, PauseStopsPushesAndResumeContinues) {
    const Firmware f = add_firmware("2.0");
    add_devices(0, 4, "1.0");
    Rollout s = spec(f);
    s.policy.push_rate_per_minute = 2;
    const Rollout r = engine->create_rollout(s);
    engine->tick();
    EXPECT_EQ(publisher.sent.size(), 2u);
    EXPECT_EQ(engine->pause(r.id).state, RolloutState::paused);
    clock.advance_s(120);
    engine->tick();
    EXPECT_EQ(publisher.sent.size(), 2u);
    expect_api_error([&] { engine->pause(r.id + 1000); }, 404, "not_found", "rollout");
    EXPECT_EQ(engine->resume(r.id).state, RolloutState::running);
    engine->tick();
    EXPECT_EQ(publisher.sent.size(), 4u);
    EXPECT_EQ(engine->resume(r.id).state, RolloutState::running);  // resuming twice is harmless
    engine->cancel(r.id);
    expect_api_error([&] { engine->resume(r.id); }, 409, "failed_precondition", "state");
}

TEST_P(RolloutTest, CancelAlwaysEnds) {
    const Firmware f = add_firmware("2.0");
    add_devices(0, 5, "1.0");
    Rollout s = spec(f, {phase(3, 0), phase(0, 0)});
    s.policy.retry_count = 3;
    const Rollout r = engine->create_rollout(s);
    engine->tick();
    EXPECT_TRUE(progress(dn(0), 30));  // in progress
    EXPECT_TRUE(progress(dn(2), -2));  // failed, queued for a retry
    EXPECT_EQ(task(dn(2)).state, TaskState::queued);
    const std::size_t pushes = publisher.sent.size();
    EXPECT_EQ(engine->cancel(r.id).state, RolloutState::canceling);
    EXPECT_EQ(task(dn(2)).state, TaskState::canceled);
    EXPECT_EQ(task(dn(3)).state, TaskState::canceled);  // a later phase's
    EXPECT_EQ(task(dn(0)).state, TaskState::in_progress);
    upgrade(dn(1), "2.0");  // a device that finishes first
    EXPECT_EQ(task(dn(1)).state, TaskState::succeeded);
    clock.advance_s(59);
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::canceling);
    clock.advance_s(1);
    engine->tick();  // deadline of dn(0) (from its first progress)
    EXPECT_EQ(task(dn(0)).state, TaskState::canceled);
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::canceled);
    EXPECT_EQ(publisher.sent.size(), pushes);  // nothing new was pushed
    expect_api_error([&] { engine->cancel(r.id); }, 409, "failed_precondition", "state");
}

TEST_P(RolloutTest, CancelOfAScheduledRolloutEndsAtOnce) {
    const Firmware f = add_firmware("2.0");
    add_devices(0, 2, "1.0");
    Rollout s = spec(f);
    s.policy.start_at = clock.t + 3600'000;
    const Rollout r = engine->create_rollout(s);
    EXPECT_EQ(engine->cancel(r.id).state, RolloutState::canceled);
    clock.advance_s(7200);
    engine->tick();
    EXPECT_TRUE(tasks_of(r.id).empty());
}

TEST_P(RolloutTest, RetryFailedRequeuesFailedAndTimedOut) {
    const Firmware f = add_firmware("2.0");
    add_devices(0, 3, "1.0");
    const Rollout r = engine->create_rollout(spec(f, {phase(0, 0, 100, 5)}));
    engine->tick();
    upgrade(dn(0), "2.0");
    EXPECT_TRUE(progress(dn(1), -2));
    clock.advance_s(60);
    engine->tick();  // dn(2) times out
    EXPECT_EQ(task(dn(2)).state, TaskState::timed_out);
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::paused);
    const RolloutView v = engine->view(r.id);
    EXPECT_EQ(v.failure_reasons.size(), 2u);
    EXPECT_EQ(engine->retry_failed(r.id).state, RolloutState::running);
    EXPECT_EQ(task(dn(1)).state, TaskState::queued);
    EXPECT_EQ(task(dn(2)).state, TaskState::queued);
    engine->tick();
    EXPECT_EQ(publisher.sent.size(), 5u);
    upgrade(dn(1), "2.0");
    upgrade(dn(2), "2.0");
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::completed);
    EXPECT_EQ(task(dn(2)).attempt, 2u);
}

TEST_P(RolloutTest, RetryFailedReopensACompletedRolloutUntilItsTasksEnd) {
    const Firmware f = add_firmware("2.0");
    add_devices(0, 2, "1.0");
    const Rollout r = engine->create_rollout(spec(f, {phase(1, 0, 0, 5), phase(0, 0)}));
    engine->tick();
    EXPECT_TRUE(progress(dn(0), -2));
    engine->tick();  // phase 1 passes its 0 % gate
    upgrade(dn(1), "2.0");
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::completed);
    engine->retry_failed(r.id);
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::running);  // dn(0) of phase 1 is open again
    EXPECT_EQ(task(dn(0)).state, TaskState::notified);
    EXPECT_EQ(publisher.sent.size(), 3u);
    upgrade(dn(0), "2.0");
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::completed);
}

TEST_P(RolloutTest, StartAndEndTime) {
    const Firmware f = add_firmware("2.0");
    add_devices(0, 4, "1.0");
    Rollout s = spec(f);
    s.policy.start_at = clock.t + 600'000;
    s.policy.end_at = clock.t + 1200'000;
    s.policy.push_rate_per_minute = 1;
    s.policy.task_timeout_s = 3600;
    const Rollout r = engine->create_rollout(s);
    engine->tick();
    EXPECT_TRUE(tasks_of(r.id).empty());
    clock.advance_s(599);
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::scheduled);
    clock.advance_s(1);
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::running);
    EXPECT_EQ(publisher.sent.size(), 1u);
    clock.advance_s(60);
    engine->tick();
    EXPECT_EQ(publisher.sent.size(), 2u);
    EXPECT_TRUE(progress(dn(1), 10));
    clock.advance_s(540);  // the end time
    engine->tick();
    EXPECT_EQ(publisher.sent.size(), 2u);  // no push after the end
    EXPECT_EQ(task(dn(2)).state, TaskState::canceled);
    EXPECT_EQ(task(dn(3)).state, TaskState::canceled);
    EXPECT_EQ(rollout(r.id).state, RolloutState::running);  // two pushed tasks still run
    upgrade(dn(0), "2.0");
    EXPECT_TRUE(progress(dn(1), -2));  // no retry after the end
    EXPECT_EQ(task(dn(1)).state, TaskState::failed);
    engine->tick();
    EXPECT_EQ(rollout(r.id).state, RolloutState::completed);
}

INSTANTIATE_TEST_SUITE_P(Stores, RolloutTest, ::testing::ValuesIn(store_factories()), factory_name);

}  // namespace
}  // namespace console::test
