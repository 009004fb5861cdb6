#include "tcp_nodelay.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdlib>

namespace ota_cloud {

int set_tcp_nodelay_on_tcp_sockets() noexcept {
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) return 0;
    int count = 0;
    while (const dirent* e = ::readdir(dir)) {
        char* end = nullptr;
        const long fd = std::strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0' || fd == ::dirfd(dir)) continue;
        const int s = static_cast<int>(fd);
        int type = 0;
        socklen_t len = sizeof type;
        if (::getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) {
            continue;
        }
        sockaddr_storage addr{};
        socklen_t alen = sizeof addr;
        if (::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &alen) != 0 ||
            (addr.ss_family != AF_INET && addr.ss_family != AF_INET6)) {
            continue;
        }
        int one = 1;
        if (::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0) ++count;
    }
    ::closedir(dir);
    return count;
}

}  // namespace ota_cloud
