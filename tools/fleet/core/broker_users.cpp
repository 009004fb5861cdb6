#include "broker_users.hpp"

namespace ota::fleet {

std::string device_username(const DeviceIdentity& d) {
    return d.device_name + "&" + d.product_key;
}
Error device_mqtt_password(const DeviceIdentity&, std::string&) {
    return {Status::internal, "todo"};
}
Error mosquitto_password_line(std::string_view, std::string_view, const std::vector<std::uint8_t>&,
                              std::uint32_t, std::string&) {
    return {Status::internal, "todo"};
}
Error mosquitto_password_line(std::string_view, std::string_view, std::string&) {
    return {Status::internal, "todo"};
}
Error check_mosquitto_password_line(std::string_view, std::string_view, bool&) {
    return {Status::internal, "todo"};
}
std::string device_acl_block(const DeviceIdentity&) {
    return {};
}
Error write_broker_users(const std::vector<DeviceIdentity>&, const std::string&,
                         const std::string&) {
    return {Status::internal, "todo"};
}

}  // namespace ota::fleet
