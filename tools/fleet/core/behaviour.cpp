#include "behaviour.hpp"

namespace ota::fleet {

Error parse_mix(std::string_view, MixSpec&) {
    return {Status::internal, "todo"};
}
Error parse_link(std::string_view, MixSpec&) {
    return {Status::internal, "todo"};
}
bool operator==(const Behaviour&, const Behaviour&) noexcept {
    return false;
}
Behaviour assign(std::uint64_t, std::uint64_t, const MixSpec&) {
    return {};
}
Outcome expected_outcome(const Behaviour&) noexcept {
    return Outcome::updated;
}
std::uint64_t SplitMix64::next() noexcept {
    return state_;
}
double SplitMix64::next_unit() noexcept {
    return 0;
}

}  // namespace ota::fleet
