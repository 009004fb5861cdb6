#include "options.hpp"

namespace ota::fleet {

Error parse_command_line(int, const char* const*, ParsedCommand&) {
    return {Status::internal, "todo"};
}
Error parse_command_line(const std::vector<std::string>&, ParsedCommand&) {
    return {Status::internal, "todo"};
}
std::string usage_text(Command) {
    return {};
}
const char* to_string(Command) noexcept {
    return "help";
}

}  // namespace ota::fleet
