#include "core/transitions.hpp"

namespace ota::detail {

const char* to_string(Event event) noexcept {
    switch (event) {
        case Event::init:
            return "init";
        case Event::push:
            return "push";
        case Event::get_reply:
            return "get_reply";
        case Event::malformed:
            return "malformed";
        case Event::fetch:
            return "fetch";
        case Event::bytes_read:
            return "bytes_read";
        case Event::end_of_body:
            return "end_of_body";
        case Event::transient_failure:
            return "transient_failure";
        case Event::permanent_failure:
            return "permanent_failure";
        case Event::stall:
            return "stall";
        case Event::verdict:
            return "verdict";
        case Event::restart:
            return "restart";
        case Event::reset:
            return "reset";
        case Event::reconnected:
            return "reconnected";
        case Event::stop:
            return "stop";
    }
    return "unknown";
}

const char* to_string(Action action) noexcept {
    switch (action) {
        case Action::none:
            return "none";
        case Action::init:
            return "init";
        case Action::take_job:
            return "take_job";
        case Action::replace_job:
            return "replace_job";
        case Action::report_malformed:
            return "report_malformed";
        case Action::log_malformed:
            return "log_malformed";
        case Action::start_download:
            return "start_download";
        case Action::store_bytes:
            return "store_bytes";
        case Action::finish:
            return "finish";
        case Action::retry:
            return "retry";
        case Action::fail:
            return "fail";
        case Action::verify:
            return "verify";
        case Action::restart:
            return "restart";
        case Action::drop_job:
            return "drop_job";
        case Action::republish:
            return "republish";
        case Action::shut_down:
            return "shut_down";
    }
    return "unknown";
}

}  // namespace ota::detail
