// The transition table, walked pair by pair: for every {state, event} the client is brought into
// the state, the event is made to happen (through the public calls and the fakes wherever the
// event can happen there, else handed to the dispatcher directly), and the test checks the next
// state the table names and the action's observable effect. A pair whose action is `none` must
// change nothing a caller can see.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/client_impl.hpp"
#include "core/transitions.hpp"
#include "support/client_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using namespace ota::test::client_fixture;
using json = nlohmann::json;
using ota::OtaState;
using ota::Status;
using ota::detail::Action;
using ota::detail::ClientMachine;
using ota::detail::Event;
using ota::detail::kTransitions;
using ota::detail::Transition;

constexpr std::size_t kSize = 3000;

/// One client in one state, with everything observable around it.
class Rig {
  public:
    explicit Rig(OtaState target) : body_(pattern(kSize, 7, 3)), channel_(broker_, "dev") {
        ota::ClientOptions o = device_options();
        o.retry.jitter = 0.0;
        o.retry.stall_floor_bytes_per_s = 1000;
        o.retry.stall_window = std::chrono::seconds(1);
        source_.set_response(response());
        machine_ = std::make_unique<ClientMachine>(channel_, source_, o, clock_);
        if (target == OtaState::uninited) return;
        EXPECT_TRUE(machine_->init().ok());
        EXPECT_TRUE(machine_->report_version("1.0.0").ok());
        EXPECT_TRUE(machine_->set_sink(&sink_).ok());
        if (target == OtaState::inited) return;
        broker_.publish(kUpgradeTopic, push_json("2.0.0"));
        EXPECT_TRUE(machine_->poll(0ms).ok());
        if (target == OtaState::pushed) return;
        // FETCHING with an open attempt that has delivered its first bytes.
        ota::test::ScriptedResponse r = response();
        r.stall_after = 1000;
        source_.set_response(r);
        EXPECT_EQ(fetch().bytes, 1000U);
        if (target == OtaState::fetching) return;
        source_.set_response(response());
        source_.response().stall_after.reset();
        for (int i = 0; i < 10 && machine_->state() == OtaState::fetching; ++i) (void)fetch();
    }

    ota::test::ScriptedResponse response() const {
        ota::test::ScriptedResponse r;
        r.body = body_;
        r.range_from_offset = true;
        r.max_chunk = 1000;
        r.end_with_last_chunk = true;
        return r;
    }

    std::string push_json(const std::string& version) const {
        return json{
            {"code", "1000"},
            {"data",
             {{"size", kSize}, {"version", version}, {"url", kUrl}, {"md5", md5_of(body_)}}},
            {"id", 1},
            {"message", "success"}}
            .dump();
    }

    ota::FetchResult fetch() { return machine_->fetch_yield(buf_.data(), buf_.size(), 0ms); }

    /// Progress steps published so far.
    std::vector<std::string> steps() const {
        std::vector<std::string> out;
        for (const auto& m : broker_.published_on(kProgressTopic)) {
            out.push_back(json::parse(m.payload).at("params").at("step").get<std::string>());
        }
        return out;
    }

    /// Messages the device published (the cloud's own are not the client's doing).
    std::size_t device_publishes() const {
        std::size_t n = 0;
        for (const auto& msg : broker_.published()) n += msg.sender == "dev" ? 1 : 0;
        return n;
    }

    ClientMachine& m() { return *machine_; }
    FakeBroker& broker() { return broker_; }
    FakeChannel& channel() { return channel_; }
    ScriptedSource& source() { return source_; }
    MemorySink& sink() { return sink_; }
    ManualClock& clock() { return clock_; }

  private:
    std::vector<std::uint8_t> body_;
    FakeBroker broker_;
    FakeChannel channel_;
    ScriptedSource source_;
    MemorySink sink_;
    ManualClock clock_;
    std::vector<std::uint8_t> buf_ = std::vector<std::uint8_t>(4096);
    std::unique_ptr<ClientMachine> machine_;
};

/// What a caller can see of a client and its surroundings.
struct Snapshot {
    OtaState state;
    std::size_t published;
    std::size_t opens;
    std::uint64_t fetched;
    const ota::UpgradeJob* job;
    std::size_t sink_calls;
    std::size_t listeners;

    static Snapshot of(Rig& r) {
        const MemorySink& s = r.sink();
        return {r.m().state(),
                r.device_publishes(),
                r.source().opens().size(),
                r.m().fetched_size(),
                r.m().job(),
                s.begins + s.writes + s.commits + s.aborts + s.flushes + s.record_saves,
                r.channel().listener_count()};
    }
    bool operator==(const Snapshot& o) const {
        return state == o.state && published == o.published && opens == o.opens &&
               fetched == o.fetched && job == o.job && sink_calls == o.sink_calls &&
               listeners == o.listeners;
    }
};

/// Makes `event` happen to the client of `rig` the way it happens in use, where it can.
void trigger(Rig& rig, const Transition& t) {
    ClientMachine& m = rig.m();
    const OtaState s = t.state;
    const bool acts = t.action != Action::none;
    switch (t.event) {
        case Event::init:
            if (s == OtaState::uninited) {
                EXPECT_TRUE(m.init().ok());
            } else {
                EXPECT_EQ(m.init().status, Status::invalid_state);
            }
            return;
        case Event::push:
        case Event::get_reply:
            if (s == OtaState::uninited) break;  // not subscribed: nothing can arrive
            if (t.event == Event::push) {
                rig.broker().publish(kUpgradeTopic, rig.push_json("3.0.0"));
            } else {
                rig.broker().publish(kGetReplyTopic,
                                     json{{"code", 200},
                                          {"data", json::parse(rig.push_json("3.0.0")).at("data")},
                                          {"id", "8"}}
                                         .dump());
            }
            EXPECT_TRUE(m.poll(0ms).ok());
            return;
        case Event::malformed:
            if (s == OtaState::uninited) break;
            rig.broker().publish(kUpgradeTopic, "{not json");
            EXPECT_TRUE(m.poll(0ms).ok());
            return;
        case Event::fetch:
            if (s == OtaState::fetching) break;  // fetch_yield in FETCHING reads: other events
            {
                const ota::FetchResult r = rig.fetch();
                if (!acts) {
                    EXPECT_EQ(r.status, Status::invalid_state);
                }
            }
            return;
        case Event::bytes_read:
        case Event::end_of_body:
        case Event::transient_failure:
        case Event::stall:
            if (s != OtaState::fetching) break;
            if (t.event == Event::bytes_read) {
                rig.source().response().stall_after = 2000;
            } else if (t.event == Event::end_of_body) {
                rig.source().response().stall_after.reset();
                (void)rig.fetch();  // bytes 1000..1999
            } else if (t.event == Event::transient_failure) {
                rig.source().response().fail_after = 1000;
            } else {
                // Two stall windows: the first still counts the 1000 bytes of the attempt.
                for (int i = 0; i < 3; ++i) {
                    rig.clock().advance(std::chrono::milliseconds(600));
                    (void)rig.fetch();
                }
                rig.clock().advance(std::chrono::milliseconds(600));
            }
            (void)rig.fetch();
            return;
        case Event::permanent_failure:
            if (s == OtaState::pushed) {
                rig.sink().begin_status = Status::storage_failed;  // the download cannot start
                EXPECT_EQ(rig.fetch().status, Status::storage_failed);
                return;
            }
            if (s == OtaState::fetching) {
                ota::test::ScriptedResponse& r = rig.source().response();
                r.fail_after = 1000;  // cut: a retry is scheduled...
                (void)rig.fetch();
                r.fail_after.reset();  // ...and it gets a 404
                r.stall_after.reset();
                r.range_from_offset = false;
                r.status = 404;
                rig.clock().advance(std::chrono::seconds(2));
                (void)rig.fetch();
                return;
            }
            if (s == OtaState::fetched) break;  // a multi-file file's verdict: see below
            break;
        case Event::verdict:
            if (s == OtaState::fetched) {
                bool valid = false;
                EXPECT_TRUE(m.check_firmware(valid).ok());
                EXPECT_TRUE(valid);
                return;
            }
            {
                bool valid = true;
                EXPECT_EQ(m.check_firmware(valid).status, Status::invalid_state);
                EXPECT_FALSE(valid);
            }
            return;
        case Event::restart:
            if (acts) {
                EXPECT_TRUE(m.restart_download().ok());
            } else {
                EXPECT_EQ(m.restart_download().status, Status::invalid_state);
            }
            return;
        case Event::reset:
            m.reset();
            return;
        case Event::reconnected:
            if (s == OtaState::uninited) break;
            rig.channel().disconnect();
            rig.channel().reconnect();
            EXPECT_TRUE(m.poll(0ms).ok());
            return;
        case Event::stop:
            m.deinit();
            return;
    }
    // The event cannot happen to this client through its calls: hand it over directly.
    ASSERT_FALSE(acts) << "an acting pair needs a real trigger";
    m.dispatch(t.event);
}

/// The effect the row's action has on what a caller sees.
void expect_effect(Rig& rig, const Transition& t, const Snapshot& before) {
    const Snapshot after = Snapshot::of(rig);
    const auto steps = rig.steps();
    const std::string last = steps.empty() ? "" : steps.back();
    switch (t.action) {
        case Action::none:
            EXPECT_TRUE(after == before) << "an ignored event changed something";
            break;
        case Action::init:
            EXPECT_EQ(after.listeners, 1U);
            EXPECT_TRUE(rig.channel().is_subscribed(kUpgradeTopic));
            break;
        case Action::take_job:
        case Action::replace_job:
            ASSERT_NE(rig.m().job(), nullptr);
            EXPECT_EQ(rig.m().version(), "3.0.0");
            break;
        case Action::report_malformed:
            EXPECT_EQ(last, "-1");
            EXPECT_EQ(rig.m().last_error().status, Status::malformed_message);
            break;
        case Action::log_malformed:  // a job runs: a -1 would fail it in the cloud
            EXPECT_EQ(after.published, before.published);
            EXPECT_EQ(after.job, before.job);
            EXPECT_EQ(rig.m().last_error().status, Status::malformed_message);
            break;
        case Action::start_download:
            EXPECT_EQ(after.opens, before.opens + 1);
            EXPECT_EQ(steps.front(), "0");
            break;
        case Action::store_bytes:
            EXPECT_EQ(after.fetched, before.fetched + 1000);
            EXPECT_EQ(rig.sink().written(), after.fetched);
            break;
        case Action::finish:
            EXPECT_EQ(after.fetched, kSize);
            EXPECT_EQ(last, "100");
            EXPECT_FALSE(rig.source().is_open());
            break;
        case Action::retry:
            EXPECT_FALSE(rig.source().is_open());
            EXPECT_EQ(after.fetched, before.fetched);
            EXPECT_NE(rig.m().job(), nullptr);
            break;
        case Action::fail: {
            // The job stays (FETCHED) with the verdict "invalid"; the partial image is gone.
            EXPECT_NE(rig.m().job(), nullptr);
            EXPECT_EQ(rig.m().file_size(), kSize);
            ASSERT_FALSE(last.empty());
            EXPECT_EQ(last[0], '-');
            EXPECT_FALSE(rig.m().last_error().ok());
            EXPECT_FALSE(rig.source().is_open());
            EXPECT_NE(rig.sink().phase(), MemorySink::Phase::committed);
            bool valid = true;
            EXPECT_EQ(rig.m().check_firmware(valid).status, rig.m().last_error().status);
            EXPECT_FALSE(valid);
            break;
        }
        case Action::verify:
            EXPECT_EQ(rig.sink().commits, 1U);
            break;
        case Action::restart:
            EXPECT_EQ(after.fetched, 0U);
            EXPECT_NE(rig.m().job(), nullptr);
            break;
        case Action::drop_job:
            EXPECT_EQ(rig.m().job(), nullptr);
            break;
        case Action::republish:
            EXPECT_EQ(rig.broker().published_on(kInformTopic).size(), 2U);
            EXPECT_EQ(after.state, before.state);
            break;
        case Action::shut_down:
            EXPECT_EQ(after.listeners, 0U);
            EXPECT_EQ(rig.m().job(), nullptr);
            break;
    }
}

/// A two-file job whose first file does not match its digest: end_of_body (FETCHED), the
/// verdict, then the permanent failure of the job from FETCHED.
void expect_bad_file_fails_the_job(const Transition& t) {
    FakeBroker broker;
    FakeChannel channel(broker, "dev");
    ScriptedSource source;
    ManualClock clock;
    MemorySink first;
    MemorySink second;
    const auto body = pattern(500, 3, 1);
    ota::ClientOptions o = device_options();
    o.multi_file = true;
    ClientMachine m(channel, source, o, clock);
    ASSERT_TRUE(m.init().ok());
    m.set_file_sink_provider(
        [&](const ota::JobFile&, std::size_t i, std::size_t) { return i == 0 ? &first : &second; });
    ota::test::ScriptedResponse r;
    r.body = body;
    r.range_from_offset = true;
    r.end_with_last_chunk = true;
    source.set_response(r);
    json files = json::array();
    for (int i = 0; i < 2; ++i) {
        files.push_back({{"fileName", "f" + std::to_string(i)},
                         {"fileSize", body.size()},
                         {"fileUrl", kUrl},
                         {"fileSign", md5_of(pattern(10, 1, 1))}});  // wrong for file 1
    }
    broker.publish(kUpgradeTopic,
                   json{{"code", "1000"},
                        {"data", {{"version", "3.0.0"}, {"signMethod", "Md5"}, {"files", files}}},
                        {"id", 1},
                        {"message", "success"}}
                       .dump());
    ASSERT_TRUE(m.poll(0ms).ok());
    ASSERT_EQ(m.state(), OtaState::pushed);
    std::vector<std::uint8_t> buf(4096);
    const ota::FetchResult res = m.fetch_yield(buf.data(), buf.size(), 0ms);
    EXPECT_EQ(res.status, Status::digest_mismatch);
    EXPECT_EQ(m.state(), t.next);
    EXPECT_NE(m.job(), nullptr) << "the failed job stays readable";
    EXPECT_EQ(first.aborts, 1U);
    EXPECT_EQ(second.begins, 0U);
    std::size_t failures = 0;
    for (const auto& msg : broker.published_on(kProgressTopic)) {
        failures += json::parse(msg.payload).at("params").at("step") == "-3" ? 1 : 0;
    }
    EXPECT_EQ(failures, 1U);  // reported once, by the verdict
}

class EveryPair : public ::testing::TestWithParam<std::size_t> {};

TEST_P(EveryPair, NextStateAndEffectAreTheTables) {
    const Transition& t = kTransitions[GetParam()];
    SCOPED_TRACE(std::string(ota::to_string(t.state)) + " x " + ota::detail::to_string(t.event) +
                 " -> " + ota::detail::to_string(t.action));
    // FETCHED x permanent_failure follows only the bad verdict on a multi-file job's file.
    if (t.state == OtaState::fetched && t.event == Event::permanent_failure) {
        expect_bad_file_fails_the_job(t);
        return;
    }
    Rig rig(t.state);
    ASSERT_EQ(rig.m().state(), t.state);
    const Snapshot before = Snapshot::of(rig);
    trigger(rig, t);
    EXPECT_EQ(rig.m().state(), t.next);
    expect_effect(rig, t, before);
}

std::string pair_name(const ::testing::TestParamInfo<std::size_t>& param) {
    const Transition& row = kTransitions[param.param];
    return std::string(ota::to_string(row.state)) + "_" + ota::detail::to_string(row.event);
}

INSTANTIATE_TEST_SUITE_P(Table, EveryPair, ::testing::Range<std::size_t>(0, kTransitions.size()),
                         pair_name);

TEST(TransitionTable, ListsEveryPairOnceInEnumOrder) {
    EXPECT_TRUE(ota::detail::table_in_enum_order());
    for (const Transition& t : kTransitions) {
        EXPECT_EQ(&ota::detail::transition(t.state, t.event), &t);
        if (t.action == Action::none) {
            EXPECT_EQ(t.next, t.state);
        }
    }
}

TEST(TransitionTable, OtherwiseStatesAreReachedWhenAnActionDoesNotSucceed) {
    {  // a refused job leaves PUSHED as it was
        Rig rig(OtaState::pushed);
        rig.broker().publish(kUpgradeTopic,
                             "{\"code\":\"1000\",\"id\":1,\"message\":\"success\","
                             "\"data\":{\"size\":0,\"version\":\"3\",\"url\":"
                             "\"https://x/fw\",\"md5\":\"0123456789abcdef0123456789abcdef\"}}");
        EXPECT_TRUE(rig.m().poll(0ms).ok());
        EXPECT_EQ(rig.m().state(),
                  ota::detail::transition(OtaState::pushed, Event::push).otherwise);
        EXPECT_EQ(rig.m().version(), "2.0.0");
        // Issue 10: while a job runs, a refusal is logged, not reported (it would fail the job).
        for (const std::string& step : rig.steps()) EXPECT_NE(step, "-1");
        EXPECT_EQ(rig.m().last_error().detail, "image size is 0");
    }
    {  // a retry without attempts left ends the download
        Rig rig(OtaState::fetching);
        rig.source().response().fail_after = 1000;
        rig.source().set_open_error({Status::fetch_failed, "down"});
        for (int i = 0; i < 40 && rig.m().state() == OtaState::fetching; ++i) {
            (void)rig.fetch();
            rig.clock().advance(std::chrono::seconds(61));
        }
        EXPECT_EQ(rig.m().state(), OtaState::fetched);
        EXPECT_EQ(rig.steps().back(), "-2");
    }
}

// Channel events wait for the apply point after the yield; the job handler runs after the
// transition that took the job, so it sees PUSHED and may reset() the client, after which the
// next queued job is taken as usual.
TEST(ApplyPoint, TheJobHandlerRunsAfterTheTransitionAndMayReset) {
    FakeBroker broker;
    FakeChannel channel(broker, "dev");
    ScriptedSource source;
    ManualClock clock;
    ota::OtaClient client(channel, source, device_options(), clock);
    ASSERT_TRUE(client.init().ok());
    std::vector<std::string> seen;
    client.set_job_handler([&](const ota::UpgradeJob& job) {
        seen.push_back(job.version + " " + ota::to_string(client.state()));
        if (job.version == "1.0.1") client.reset();
    });
    const auto push = [&](const std::string& version) {
        broker.publish(kUpgradeTopic, json{{"code", "1000"},
                                           {"data",
                                            {{"size", 10},
                                             {"version", version},
                                             {"url", kUrl},
                                             {"md5", md5_of(pattern(10, 1, 1))}}},
                                           {"id", 1},
                                           {"message", "success"}}
                                          .dump());
    };
    push("1.0.1");
    push("1.0.2");
    ASSERT_TRUE(client.poll(0ms).ok());
    ASSERT_EQ(seen.size(), 2U);
    EXPECT_EQ(seen[0], "1.0.1 pushed");
    EXPECT_EQ(seen[1], "1.0.2 pushed");  // taken after the reset the first handler made
    EXPECT_EQ(client.state(), OtaState::pushed);
    EXPECT_EQ(client.version(), "1.0.2");
}

}  // namespace
