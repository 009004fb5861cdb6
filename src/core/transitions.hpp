// The client's state machine as data: one row per {state, event} pair, saying what the client
// does (the action) and which state follows. Internal. OtaClient::Impl looks every event up here
// and nowhere else decides a state change; tests/unit/client_transitions_test.cpp walks every
// row, and README.md ("State machine") shows the same table.
//
// An action either succeeds, and the state becomes `next`, or it does not (a job refused by
// admission, a download that cannot start, a retry that has no attempt or time left, the next
// file of a multi-file job), and the state becomes `otherwise`. An action never applies another
// event itself: it may leave one follow-up event (a permanent failure, the end of the body, the
// verdict on a multi-file job's file), which the dispatcher applies after it, so that handlers
// never nest. Channel callbacks only queue their events; the queue is applied at the start of
// poll() and fetch_yield(), after the channel's yield().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "ota/client.hpp"

namespace ota::detail {

/// What can happen to a client.
enum class Event : std::uint8_t {
    init,               ///< the application called init()
    push,               ///< a well-formed job arrived on the upgrade topic
    get_reply,          ///< a well-formed job arrived as a firmware/get reply
    malformed,          ///< a push or reply that could not be decoded
    fetch,              ///< the application called fetch_yield()
    bytes_read,         ///< the open attempt delivered image bytes
    end_of_body,        ///< every byte is there and the body ended
    transient_failure,  ///< the attempt failed in a way another attempt may overcome
    permanent_failure,  ///< the download (or a file's verification) cannot succeed
    stall,              ///< the attempt delivered too few bytes within the stall window
    verdict,            ///< the image (or a multi-file job's file) was verified
    restart,            ///< the application called restart_download()
    reset,              ///< the application called reset()
    reconnected,        ///< the channel is connected again
    stop,               ///< deinit() or the client's destruction
};
inline constexpr std::size_t kEventCount = 15;
inline constexpr std::size_t kStateCount = 5;

/// What the client does for an event in a state.
enum class Action : std::uint8_t {
    none,      ///< nothing: the event does not concern this state
    init,      ///< validate the options, subscribe the job topics
    take_job,  ///< admission; accepted jobs replace the current one (uncommitted image dropped)
    report_malformed,  ///< step -1 with the decoder's message; the state is untouched
    replace_job,       ///< take_job while a job runs: a refusal is only logged, never reported
    log_malformed,     ///< report_malformed while a job runs: only logged (a -1 would fail it)
    start_download,    ///< digest, sink (fresh or crash-resumed), progress 0, first attempt
    store_bytes,       ///< digest, sink, resume record, progress; may end or interrupt the attempt
    finish,            ///< close the attempt, progress 100 (multi-file: verify the file)
    retry,             ///< schedule the next attempt (backoff), or give up
    fail,              ///< report the failure once, drop the partial image; FETCHED, "invalid"
    verify,            ///< commit a valid image; multi-file: go on with the next file (PUSHED)
    restart,           ///< drop the partial image; the same job downloads again from byte 0
    drop_job,          ///< forget the job and its partial image
    republish,         ///< re-report the version and the reports that waited for the broker
    shut_down,         ///< drop the job, forget the version and the queued reports
};

/// One row of the table.
struct Transition {
    OtaState state;
    Event event;
    Action action;
    OtaState next;       ///< the state after the action succeeded
    OtaState otherwise;  ///< the state after it did not (see the file comment)
};

namespace transition_table {
using A = Action;
using E = Event;
constexpr OtaState U = OtaState::uninited;
constexpr OtaState I = OtaState::inited;
constexpr OtaState P = OtaState::pushed;
constexpr OtaState F = OtaState::fetching;
constexpr OtaState D = OtaState::fetched;

// clang-format off
/// Every {state, event} pair, in the order of the enums (the lookup relies on it).
/// U uninited, I inited, P pushed, F fetching, D fetched (downloaded).
inline constexpr std::array<Transition, kStateCount * kEventCount> kTransitions = {{
    // state event                 action                 next otherwise
    {U, E::init,               A::init,              I, U},
    {U, E::push,               A::none,              U, U},
    {U, E::get_reply,          A::none,              U, U},
    {U, E::malformed,          A::none,              U, U},
    {U, E::fetch,              A::none,              U, U},
    {U, E::bytes_read,         A::none,              U, U},
    {U, E::end_of_body,        A::none,              U, U},
    {U, E::transient_failure,  A::none,              U, U},
    {U, E::permanent_failure,  A::none,              U, U},
    {U, E::stall,              A::none,              U, U},
    {U, E::verdict,            A::none,              U, U},
    {U, E::restart,            A::none,              U, U},
    {U, E::reset,              A::none,              U, U},
    {U, E::reconnected,        A::none,              U, U},
    {U, E::stop,               A::none,              U, U},

    {I, E::init,               A::none,              I, I},
    {I, E::push,               A::take_job,          P, I},
    {I, E::get_reply,          A::take_job,          P, I},
    {I, E::malformed,          A::report_malformed,  I, I},
    {I, E::fetch,              A::none,              I, I},
    {I, E::bytes_read,         A::none,              I, I},
    {I, E::end_of_body,        A::none,              I, I},
    {I, E::transient_failure,  A::none,              I, I},
    {I, E::permanent_failure,  A::none,              I, I},
    {I, E::stall,              A::none,              I, I},
    {I, E::verdict,            A::none,              I, I},
    {I, E::restart,            A::none,              I, I},
    {I, E::reset,              A::drop_job,          I, I},
    {I, E::reconnected,        A::republish,         I, I},
    {I, E::stop,               A::shut_down,         U, U},

    {P, E::init,               A::none,              P, P},
    {P, E::push,               A::replace_job,       P, P},
    {P, E::get_reply,          A::replace_job,       P, P},
    {P, E::malformed,          A::log_malformed,     P, P},
    {P, E::fetch,              A::start_download,    F, P},
    {P, E::bytes_read,         A::none,              P, P},
    {P, E::end_of_body,        A::none,              P, P},
    {P, E::transient_failure,  A::none,              P, P},
    {P, E::permanent_failure,  A::fail,              D, D},
    {P, E::stall,              A::none,              P, P},
    {P, E::verdict,            A::none,              P, P},
    {P, E::restart,            A::restart,           P, P},
    {P, E::reset,              A::drop_job,          I, I},
    {P, E::reconnected,        A::republish,         P, P},
    {P, E::stop,               A::shut_down,         U, U},

    {F, E::init,               A::none,              F, F},
    {F, E::push,               A::none,              F, F},
    {F, E::get_reply,          A::none,              F, F},
    {F, E::malformed,          A::log_malformed,     F, F},
    {F, E::fetch,              A::none,              F, F},
    {F, E::bytes_read,         A::store_bytes,       F, F},
    {F, E::end_of_body,        A::finish,            D, D},
    {F, E::transient_failure,  A::retry,             F, F},
    {F, E::permanent_failure,  A::fail,              D, D},
    {F, E::stall,              A::retry,             F, F},
    {F, E::verdict,            A::none,              F, F},
    {F, E::restart,            A::restart,           P, P},
    {F, E::reset,              A::drop_job,          I, I},
    {F, E::reconnected,        A::republish,         F, F},
    {F, E::stop,               A::shut_down,         U, U},

    {D, E::init,               A::none,              D, D},
    {D, E::push,               A::replace_job,       P, D},
    {D, E::get_reply,          A::replace_job,       P, D},
    {D, E::malformed,          A::log_malformed,     D, D},
    {D, E::fetch,              A::none,              D, D},
    {D, E::bytes_read,         A::none,              D, D},
    {D, E::end_of_body,        A::none,              D, D},
    {D, E::transient_failure,  A::none,              D, D},
    {D, E::permanent_failure,  A::fail,              D, D},
    {D, E::stall,              A::none,              D, D},
    {D, E::verdict,            A::verify,            D, P},
    {D, E::restart,            A::restart,           P, P},
    {D, E::reset,              A::drop_job,          I, I},
    {D, E::reconnected,        A::republish,         D, D},
    {D, E::stop,               A::shut_down,         U, U},
}};
// clang-format on
}  // namespace transition_table

using transition_table::kTransitions;

/// True when row i of the table is the pair (state i / kEventCount, event i % kEventCount).
[[nodiscard]] constexpr bool table_in_enum_order() noexcept {
    for (std::size_t i = 0; i < kTransitions.size(); ++i) {
        if (static_cast<std::size_t>(kTransitions[i].state) != i / kEventCount ||
            static_cast<std::size_t>(kTransitions[i].event) != i % kEventCount) {
            return false;
        }
    }
    return true;
}
static_assert(table_in_enum_order(), "kTransitions must list every pair in enum order");

/// The row for `event` in `state`.
[[nodiscard]] constexpr const Transition& transition(OtaState state, Event event) noexcept {
    return kTransitions[static_cast<std::size_t>(state) * kEventCount +
                        static_cast<std::size_t>(event)];
}

/// "push", "get_reply", ... (for logs and the README table).
[[nodiscard]] const char* to_string(Event event) noexcept;
/// "none", "take_job", ...
[[nodiscard]] const char* to_string(Action action) noexcept;

}  // namespace ota::detail
