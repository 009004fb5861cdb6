#include "stats.hpp"

namespace ota::fleet {

std::string FleetSummary::to_json() const {
    return "{}";
}
Error FleetSummary::from_json(std::string_view, FleetSummary&) {
    return {Status::internal, "todo"};
}

}  // namespace ota::fleet
