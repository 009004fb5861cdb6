#include "block_server.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ota_cloud {

namespace {

// Codes of the platform's replies are HTTP-like; the device only needs "not 200".
constexpr int kBadRequest = 400;
constexpr int kNotFound = 404;

}  // namespace

bool parse_share(const std::string& text, double& share) {
    if (text.empty()) return false;
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (end == text.c_str()) return false;
    if (*end == '%') {
        v /= 100.0;
        ++end;
    }
    if (*end != '\0' || !(v >= 0.0 && v <= 1.0)) return false;
    share = v;
    return true;
}

BlockServer::BlockServer(ota::MqttChannel& channel, ota::FileDownloadTopics topics,
                         BlockServerOptions options)
    : channel_(channel),
      topics_(std::move(topics)),
      options_(std::move(options)),
      rng_(options_.seed) {}

BlockServer::~BlockServer() {
    if (fd_ >= 0) ::close(fd_);
}

std::string BlockServer::open() {
    fd_ = ::open(options_.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return "cannot open " + options_.file + ": " + std::strerror(errno);
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return "cannot stat " + options_.file + ": " + std::strerror(errno);
    size_ = static_cast<std::uint64_t>(st.st_size);
    return {};
}

bool BlockServer::subscribe() {
    return channel_.subscribe(topics_.request, 0) == ota::Status::ok;
}

void BlockServer::on_message(std::string_view topic, std::string_view payload) {
    if (topic != topics_.request) return;
    ++stats_.requests;
    std::string why;
    const auto req = ota::decode_block_request(payload, &why);
    if (!req) {
        refuse({}, kBadRequest, why);
        return;
    }
    if (req->stream_id != options_.stream_id || req->file_id != options_.file_id) {
        refuse(req->id, kNotFound,
               "no stream " + std::to_string(req->stream_id) + " file " +
                   std::to_string(req->file_id));
        return;
    }
    if (req->size == 0 || req->size > options_.max_block) {
        refuse(req->id, kBadRequest,
               "block size " + std::to_string(req->size) + " is not in 1.." +
                   std::to_string(options_.max_block));
        return;
    }
    if (req->offset >= size_) {
        refuse(req->id, kBadRequest,
               "offset " + std::to_string(req->offset) + " is beyond the file's " +
                   std::to_string(size_) + " bytes");
        return;
    }
    answer(*req);
}

void BlockServer::answer(const ota::BlockRequest& req) {
    // The last block is shorter than asked for, as the platform answers.
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(req.size, size_ - req.offset));
    block_.resize(n);
    std::size_t got = 0;
    while (got < n) {
        const ssize_t r =
            ::pread(fd_, block_.data() + got, n - got, static_cast<off_t>(req.offset + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            refuse(req.id, kBadRequest, "cannot read the file at " + std::to_string(req.offset));
            return;
        }
        got += static_cast<std::size_t>(r);
    }
    ota::BlockReplyHeader h;
    h.id = req.id;
    h.file_token = req.file_token;
    h.file_length = size_;
    h.offset = req.offset;
    std::string reply = ota::encode_block_reply(h, block_);

    // One draw per request keeps the shares exact in expectation and the run reproducible.
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    if (u < options_.drop_share) {
        ++stats_.dropped;
        return;
    }
    stats_.bytes += n;
    if (u < options_.drop_share + options_.corrupt_share) {
        // After the CRC was computed: a byte of the block, or (one time in eight) of the CRC.
        const std::size_t block_at = reply.size() - 2 - n;
        const std::uint64_t pick = rng_();
        const std::size_t at =
            (pick % 8 == 0) ? reply.size() - 1 - (pick / 8) % 2 : block_at + (pick / 8) % n;
        reply[at] = static_cast<char>(reply[at] ^ 0x5A);
        ++stats_.corrupted;
        send(reply);
        return;
    }
    if (u < options_.drop_share + options_.corrupt_share + options_.delay_share) {
        ++stats_.delayed;
        delayed_.push_back({Clock::now() + options_.delay, std::move(reply)});
        return;
    }
    ++stats_.served;
    send(reply);
}

void BlockServer::refuse(const std::string& id, int code, const std::string& why) {
    ++stats_.refused;
    std::fprintf(stderr, "ota_cloud: refused a block request (code %d): %s\n", code, why.c_str());
    ota::BlockReplyHeader h;
    h.code = code;
    h.id = id;
    h.message = why;
    send(ota::encode_block_reply(h, {}));
}

void BlockServer::send(const std::string& payload) {
    // QoS 0 like the device's requests: a lost answer is asked for again.
    if (channel_.publish(topics_.reply, payload, 0) != ota::Status::ok) {
        std::fprintf(stderr, "ota_cloud: could not publish a block reply\n");
    }
}

std::chrono::milliseconds BlockServer::flush_due(std::chrono::milliseconds cap) {
    if (delayed_.empty()) return cap;
    const auto now = Clock::now();
    auto next = now + cap;
    std::vector<Delayed> keep;
    for (auto& d : delayed_) {
        if (d.due <= now) {
            send(d.payload);
        } else {
            next = std::min(next, d.due);
            keep.push_back(std::move(d));
        }
    }
    delayed_.swap(keep);
    return std::max(std::chrono::milliseconds(1),
                    std::chrono::duration_cast<std::chrono::milliseconds>(next - now));
}

}  // namespace ota_cloud
