// The mqtt::exception -> ota::Error mapping (see paho_error.hpp).
#include "channel/paho_error.hpp"

#include <mqtt/async_client.h>
#include <netdb.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <string>

namespace ota::detail {
namespace {

const char* operation_name(Operation op) noexcept {
    switch (op) {
        case Operation::connect:
            return "connect";
        case Operation::subscribe:
            return "subscribe";
        case Operation::publish:
            return "publish";
        case Operation::yield:
            return "yield";
    }
    return "MQTT operation";
}

}  // namespace

std::string out_of_descriptors_text() {
    struct rlimit lim {};
    const std::string limit = getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY
                                  ? std::to_string(lim.rlim_cur)
                                  : std::string("?");
    return "this process is out of file descriptors (RLIMIT_NOFILE " + limit +
           "; raise `ulimit -n`, one descriptor per connection)";
}

Error map_paho_error(const std::exception& e, const FailureContext& ctx) {
    const std::string op = operation_name(ctx.operation);
    if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) {
        return {Status::no_memory, op + ": out of memory"};
    }
    const auto* pe = dynamic_cast<const mqtt::exception*>(&e);
    if (pe == nullptr) {
        return {Status::internal, op + ": unexpected error: " + e.what()};
    }
    const int rc = pe->get_return_code();
    const std::string ep(ctx.endpoint);
    const std::string subject(ctx.subject);

    if (ctx.operation == Operation::connect) {
        // Positive codes are the broker's CONNACK return code (MQTT 3.1.1 section 3.2.2.3).
        switch (rc) {
            case 1:
                return {Status::not_connected,
                        "broker refused the connection: unacceptable protocol version (this "
                        "client speaks MQTT 3.1.1)"};
            case 2:
                return {Status::invalid_argument,
                        "broker refused the connection: client id rejected"};
            case 3:
                return {Status::not_connected, "broker refused the connection: server unavailable"};
            case 4:
                return {Status::invalid_argument,
                        "broker refused the connection: bad user name or password (check product "
                        "key, device name and device secret)"};
            case 5:
                return {Status::invalid_argument,
                        "broker refused the connection: not authorized (check product key, "
                        "device name and device secret)"};
            default:
                break;
        }
        if (rc == MQTTASYNC_FAILURE) {
            if (ctx.reachability == Reachability::unresolved) {
                return {Status::not_connected,
                        "cannot reach " + ep + " (the host name does not resolve)"};
            }
            if (ctx.reachability == Reachability::no_descriptors) {
                return {Status::not_connected,
                        "cannot connect to " + ep + ": " + out_of_descriptors_text()};
            }
            if (ctx.reachability == Reachability::reachable) {
                if (ctx.use_tls && ctx.verify) {
                    // The port answers but the TLS connection failed. paho 1.3 reports neither
                    // chain nor host name verification failures in any other way (and its
                    // OpenSSL error hook cannot be used safely from C++ 1.2, see make_ssl_options).
                    const std::string trust(ctx.trust);
                    return {Status::not_connected,
                            "TLS handshake with " + ep +
                                " failed: certificate verification against " + trust +
                                " rejected the broker (unknown issuer, expired, or not issued "
                                "for the host that was dialled), or the port does not speak TLS"};
                }
                if (ctx.use_tls) {
                    return {Status::not_connected,
                            "TLS handshake with " + ep +
                                " failed (certificate verification is off): the port may not "
                                "speak TLS"};
                }
                return {Status::not_connected,
                        "the connection to " + ep +
                            " was closed before the broker answered (is it a TLS-only port?)"};
            }
            return {Status::not_connected, "cannot reach " + ep + " (TCP connect failed)"};
        }
    }
    if (ctx.operation == Operation::subscribe && rc == MQTT_BAD_SUBSCRIBE) {
        return {Status::invalid_argument,
                "broker refused the subscription to '" + subject +
                    "' (SUBACK 0x80: not authorized or not a valid filter)"};
    }
    const std::string where = subject.empty() ? op : op + " '" + subject + "'";
    switch (rc) {
        case MQTTASYNC_DISCONNECTED:
            return {Status::not_connected, where + ": not connected to " + ep};
        case MQTTASYNC_OPERATION_INCOMPLETE:
            return {Status::not_connected,
                    where + ": the connection to " + ep + " was lost before the broker answered"};
        case MQTTASYNC_BAD_UTF8_STRING:
        case MQTTASYNC_TOPICNAME_TRUNCATED:
            return {Status::invalid_argument, where + ": not a valid UTF-8 MQTT string"};
        case MQTTASYNC_BAD_QOS:
            return {Status::invalid_argument, where + ": QoS out of range"};
        case MQTTASYNC_BAD_PROTOCOL:
            return {Status::invalid_argument, where + ": unsupported broker URI for " + ep};
        case MQTTASYNC_MAX_MESSAGES_INFLIGHT:
        case MQTTASYNC_MAX_BUFFERED_MESSAGES:
        case MQTTASYNC_NO_MORE_MSGIDS:
            return {Status::timeout,
                    where + ": too many messages are waiting for the broker's acknowledgement"};
        case MQTTASYNC_SSL_NOT_SUPPORTED:
            return {Status::internal, where + ": the paho library was built without TLS"};
        default:
            break;
    }
    return {Status::internal, where + " failed: " + pe->what()};
}

Reachability probe_tcp(const std::string& host, std::uint16_t port,
                       std::chrono::milliseconds timeout) noexcept {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0 || found == nullptr) {
        return Reachability::unresolved;
    }
    bool ok = false;
    for (addrinfo* ai = found; ai != nullptr && !ok; ai = ai->ai_next) {
        const int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                freeaddrinfo(found);
                return Reachability::no_descriptors;
            }
            continue;
        }
        const int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc == 0) {
            ok = true;
        } else if (errno == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            if (poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
                int err = 0;
                socklen_t len = sizeof err;
                ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
            }
        }
        close(fd);
    }
    freeaddrinfo(found);
    return ok ? Reachability::reachable : Reachability::unreachable;
}

}  // namespace ota::detail
