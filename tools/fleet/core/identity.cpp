#include "identity.hpp"

namespace ota::fleet {

Error NamePattern::parse(std::string_view, NamePattern&) {
    return {Status::internal, "todo"};
}
std::string NamePattern::format(std::uint64_t) const {
    return prefix_ + suffix_;
}
Error parse_devices_csv(std::string_view, std::vector<DeviceIdentity>&) {
    return {Status::internal, "todo"};
}
Error load_identities(const IdentitySpec&, std::uint64_t, std::uint64_t,
                      std::vector<DeviceIdentity>&) {
    return {Status::internal, "todo"};
}

}  // namespace ota::fleet
