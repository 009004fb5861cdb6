#include "outcome.hpp"

namespace ota::fleet {

const char* to_string(Outcome outcome) noexcept {
    switch (outcome) {
        case Outcome::updated:
            return "updated";
        case Outcome::digest_mismatch:
            return "digest_mismatch";
        case Outcome::download_failed:
            return "download_failed";
        case Outcome::storage_failed:
            return "storage_failed";
        case Outcome::never_returned:
            return "never_returned";
        case Outcome::rolled_back:
            return "rolled_back";
        case Outcome::no_job:
            return "no_job";
        case Outcome::connect_failed:
            return "connect_failed";
        case Outcome::stopped:
            return "stopped";
    }
    return "unknown";
}

std::optional<Outcome> outcome_from_string(std::string_view name) noexcept {
    for (Outcome o : kAllOutcomes) {
        if (name == to_string(o)) return o;
    }
    return std::nullopt;
}

}  // namespace ota::fleet
