#include "model/model.hpp"

namespace console {

namespace {

template <typename E, std::size_t N>
std::optional<E> from_names(std::string_view s, const char* const (&names)[N]) noexcept {
    for (std::size_t i = 0; i < N; ++i) {
        if (s == names[i]) return static_cast<E>(i);
    }
    return std::nullopt;
}

// In enum order.
const char* const kRolloutKinds[] = {"normal", "verify"};
const char* const kRolloutStates[] = {"scheduled", "running",   "paused",
                                      "canceling", "completed", "canceled"};
const char* const kTaskStates[] = {"queued", "notified",  "in_progress", "succeeded",
                                   "failed", "timed_out", "canceled"};

}  // namespace

const char* to_string(RolloutKind k) noexcept {
    return kRolloutKinds[static_cast<int>(k)];
}
const char* to_string(RolloutState s) noexcept {
    return kRolloutStates[static_cast<int>(s)];
}
const char* to_string(TaskState s) noexcept {
    return kTaskStates[static_cast<int>(s)];
}

std::optional<RolloutKind> rollout_kind_from(std::string_view s) noexcept {
    return from_names<RolloutKind>(s, kRolloutKinds);
}
std::optional<RolloutState> rollout_state_from(std::string_view s) noexcept {
    return from_names<RolloutState>(s, kRolloutStates);
}
std::optional<TaskState> task_state_from(std::string_view s) noexcept {
    return from_names<TaskState>(s, kTaskStates);
}

bool is_final(TaskState s) noexcept {
    return s == TaskState::succeeded || s == TaskState::failed || s == TaskState::timed_out ||
           s == TaskState::canceled;
}

}  // namespace console
