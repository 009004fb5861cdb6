// MqttByteSource (ota/mqtt_byte_source.hpp).
//
// Decisions worth knowing when reading this file:
//  - The slots form a ring of `window` contiguous ranges of the file, in file order from head_.
//    A slot is filled front to back: a reply fits it only when it starts where the slot's bytes
//    end, so in-order delivery needs no reassembly map and every byte is copied once into the
//    slot and once into the caller's buffer.
//  - A reply is matched to its slot by the request id it echoes, else by its offset. The id
//    changes with every request, so a late duplicate of an answered request matches nothing and
//    is dropped, while a late answer to a request that was sent again is still used when it
//    fits.
//  - The re-request timeout is TCP's (RFC 6298): samples only from answers that identify their
//    request (echoed id, or a block asked for once: Karn's rule); each further request of the same
//    block doubles the wait, up to reply_timeout.
//  - read() waits in the channel's yield() and returns "nothing yet" after a wait in which no
//    reply or reconnect arrived, so that a channel that returns at once (the test fakes) or early
//    (another listener's message) never makes it spin.
#include "ota/mqtt_byte_source.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <random>
#include <string>
#include <utility>

#include "core/lazy_log.hpp"
#include "ota/log.hpp"

namespace ota {

namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

/// The adaptive timeout before the first round trip was measured (RFC 6298's initial RTO).
constexpr nanoseconds kInitialTimeout = std::chrono::seconds(1);

/// A fileToken unique in the process (a counter) and unlikely to repeat across restarts (a
/// random prefix), so that replies to an earlier attempt or another client are told apart.
std::string make_token() {
    static const std::uint32_t salt = [] {
        std::random_device rd;
        return static_cast<std::uint32_t>(rd());
    }();
    static std::atomic<std::uint64_t> counter{0};
    char hex[9];
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 8; ++i) hex[i] = kHex[(salt >> (28 - 4 * i)) & 0xFU];
    hex[8] = '\0';
    return std::string(hex) + "-" + std::to_string(counter.fetch_add(1) + 1);
}

std::string ms_text(nanoseconds d) {
    return std::to_string(std::chrono::ceil<milliseconds>(d).count()) + " ms";
}

}  // namespace

/// One range of the file being fetched: `have` bytes of `want` are in `data`, `given` of them
/// handed out (only the head slot hands out).
struct MqttByteSource::Slot {
    std::uint8_t* data = nullptr;
    std::uint64_t offset = 0;
    std::size_t want = 0;
    std::size_t have = 0;
    std::size_t given = 0;
    std::uint64_t request_id = 0;  // of the latest request
    bool sent = false;             // the latest request was published
    int requests = 0;              // requests of the missing part without a valid answer
    int sends = 0;                 // publications of the missing part (Karn's rule)
    Clock::time_point sent_at{};
    nanoseconds waited{0};       // the timeout that expired last, for the failure text
    const char* last = nullptr;  // the last problem; nullptr = no answer
};

MqttByteSource::MqttByteSource(MqttChannel& channel, std::string_view product_key,
                               std::string_view device_name, MqttDownloadOptions options,
                               const Clock& clock)
    : channel_(channel),
      topics_(make_file_download_topics(product_key, device_name)),
      options_(options),
      clock_(clock) {}

MqttByteSource::~MqttByteSource() {
    close();
}

void MqttByteSource::set_stream(std::uint64_t stream_id, std::uint64_t file_id,
                                std::uint64_t size) noexcept {
    stream_id_ = stream_id;
    file_id_ = file_id;
    size_ = size;
}

MqttByteSource::Slot& MqttByteSource::slot_at(std::size_t i) noexcept {
    return slots_[(head_ + i) % options_.window];
}

Error MqttByteSource::open(std::string_view url, std::uint64_t offset) {
    close();
    if (Error e = options_.validate(); !e.ok()) return e;
    if (url.substr(0, 5) != "mqtt:") {
        return {Status::invalid_argument,
                "not an MQTT stream: the MQTT byte source needs an "
                "\"mqtt:\" source, not a URL"};
    }
    if (offset > size_) {
        return {Status::invalid_argument, "offset " + std::to_string(offset) +
                                              " is beyond the stream's " + std::to_string(size_) +
                                              " bytes"};
    }
    if (!buffer_) {
        buffer_ = std::make_unique<std::uint8_t[]>(options_.window * options_.block_size);
        slots_ = std::make_unique<Slot[]>(options_.window);
        for (std::size_t i = 0; i < options_.window; ++i) {
            slots_[i].data = buffer_.get() + i * options_.block_size;
        }
    }
    // Once: the channel remembers it across reconnects (not_connected included), and each new
    // subscription would cost a round trip to the broker per attempt.
    if (!subscribed_) {
        const Status s = channel_.subscribe(topics_.reply, 0);
        if (s != Status::ok && s != Status::not_connected) {
            return {Status::fetch_failed,
                    "could not subscribe to " + topics_.reply + ": " + to_string(s)};
        }
        subscribed_ = true;
    }
    channel_.add_listener(*this);
    listening_ = true;
    token_ = make_token();
    offset_ = pos_ = next_block_ = offset;
    total_ = 0;
    failed_ = false;
    error_.clear();
    head_given_ = false;
    head_ = 0;
    count_ = 0;
    open_ = true;
    plan_slots();
    return {};
}

void MqttByteSource::close() noexcept {
    if (listening_) {
        channel_.remove_listener(*this);
        listening_ = false;
    }
    if (open_ && ignored_ > 0) {
        detail::log_lazy(LogLevel::debug, [&] {
            return "MQTT stream " + std::to_string(stream_id_) + "/" + std::to_string(file_id_) +
                   ": " + std::to_string(ignored_) +
                   " replies ignored (duplicates, stale or for another client)";
        });
    }
    ignored_ = 0;
    open_ = false;
    count_ = 0;
}

void MqttByteSource::plan_slots() {
    while (count_ < options_.window && next_block_ < size_) {
        Slot& s = slot_at(count_);
        s.offset = next_block_;
        s.want = static_cast<std::size_t>(
            std::min<std::uint64_t>(options_.block_size, size_ - next_block_));
        s.have = 0;
        s.given = 0;
        s.requests = 0;
        s.sends = 0;
        s.sent = false;
        s.last = nullptr;
        next_block_ += s.want;
        ++count_;
        send(s);
    }
}

void MqttByteSource::send(Slot& slot) {
    BlockRequest req;
    req.id = std::to_string(++next_id_);
    req.file_token = token_;
    req.stream_id = stream_id_;
    req.file_id = file_id_;
    req.offset = slot.offset + slot.have;
    req.size = slot.want - slot.have;
    slot.request_id = next_id_;
    slot.sent_at = clock_.now();
    const Status s = channel_.publish(topics_.request, encode_block_request(req), 0);
    slot.sent = s == Status::ok;
    if (!slot.sent) return;  // sent again when the channel is back (service_timers)
    ++slot.requests;
    ++slot.sends;
    ++requests_sent_;
}

void MqttByteSource::retry_slot(Slot& slot, const char* why) {
    slot.last = why;
    if (slot.requests >= options_.max_requests_per_block) {
        failed_ = true;
        std::string last =
            why != nullptr ? std::string(why) : "no answer within " + ms_text(slot.waited);
        error_ = "no valid answer for the block at offset " +
                 std::to_string(slot.offset + slot.have) + " of MQTT stream " +
                 std::to_string(stream_id_) + "/" + std::to_string(file_id_) + " after " +
                 std::to_string(slot.requests) + " requests (last: " + last + ")";
        return;
    }
    send(slot);
}

std::chrono::milliseconds MqttByteSource::reply_timeout() const noexcept {
    nanoseconds t = kInitialTimeout;
    if (rtt_known_) t = nanoseconds(srtt_ + 4 * rttvar_);
    t = std::clamp<nanoseconds>(t, options_.min_reply_timeout, options_.reply_timeout);
    return std::chrono::ceil<milliseconds>(t);
}

nanoseconds MqttByteSource::slot_timeout(const Slot& slot) const noexcept {
    nanoseconds t = reply_timeout();
    for (int i = 1; i < slot.requests && t < options_.reply_timeout; ++i) t *= 2;
    return std::min<nanoseconds>(t, options_.reply_timeout);
}

void MqttByteSource::note_rtt(nanoseconds rtt) noexcept {
    const std::int64_t r = std::max<std::int64_t>(rtt.count(), 0);
    if (!rtt_known_) {
        srtt_ = r;
        rttvar_ = r / 2;
        rtt_known_ = true;
        return;
    }
    const std::int64_t dev = srtt_ > r ? srtt_ - r : r - srtt_;
    rttvar_ = (3 * rttvar_ + dev) / 4;
    srtt_ = (7 * srtt_ + r) / 8;
}

void MqttByteSource::service_timers(Clock::time_point now) {
    for (std::size_t i = 0; i < count_ && !failed_; ++i) {
        Slot& s = slot_at(i);
        if (s.have == s.want) continue;
        if (!s.sent) {
            if (channel_.is_connected()) send(s);
            continue;
        }
        const nanoseconds wait = slot_timeout(s);
        if (now - s.sent_at >= wait) {
            s.waited = wait;
            retry_slot(s, nullptr);
        }
    }
}

MqttByteSource::Slot* MqttByteSource::find_slot(const BlockReply& reply, bool by_offset) {
    const BlockReplyHeader& h = *reply.header;
    std::uint64_t id = 0;
    const char* first = h.id.data();
    const char* last = first + h.id.size();
    if (auto [p, ec] = std::from_chars(first, last, id); ec == std::errc() && p == last) {
        for (std::size_t i = 0; i < count_; ++i) {
            Slot& s = slot_at(i);
            if (s.sent && s.request_id == id && s.have < s.want) return &s;
        }
    }
    for (std::size_t i = 0; i < count_ && by_offset; ++i) {
        Slot& s = slot_at(i);
        if (s.have < s.want && s.offset + s.have == h.offset) return &s;
    }
    return nullptr;
}

void MqttByteSource::on_message(std::string_view topic, std::string_view payload) {
    if (!open_ || topic != topics_.reply) return;
    ++events_;
    const BlockReply reply = decode_block_reply(payload);
    // A malformed reply names nothing trustworthy (not even its token): its block times out.
    // An error reply may come without data, hence without a token: only its echoed id can
    // then tie it to this transfer.
    const bool tokenless_error =
        reply.errc == BlockReplyErrc::not_ok && reply.header && reply.header->file_token.empty();
    if (!reply.header || failed_ || (reply.header->file_token != token_ && !tokenless_error)) {
        ++ignored_;
        return;
    }
    Slot* slot = find_slot(reply, !tokenless_error);
    if (slot == nullptr) {
        ++ignored_;
        return;
    }
    if (reply.errc != BlockReplyErrc::ok) {
        retry_slot(*slot, to_string(reply.errc));
        return;
    }
    const BlockReplyHeader& h = *reply.header;
    if (h.offset != slot->offset + slot->have) {
        retry_slot(*slot, "wrong offset");
        return;
    }
    if (h.size == 0 || h.size > slot->want - slot->have) {
        retry_slot(*slot, "block size not the one asked for");
        return;
    }
    accept(*slot, h, reply.block);
}

void MqttByteSource::accept(Slot& slot, const BlockReplyHeader& header, std::string_view block) {
    if (total_ == 0) total_ = header.file_length;
    if (slot.sends == 1) note_rtt(clock_.now() - slot.sent_at);
    std::memcpy(slot.data + slot.have, block.data(), block.size());
    slot.have += block.size();
    slot.requests = 0;
    slot.sends = 0;
    slot.last = nullptr;
    // A cloud that caps the block size: ask for the rest at once.
    if (slot.have < slot.want) send(slot);
}

void MqttByteSource::on_connection_lost() {
    if (!open_) return;
    ++events_;
    // QoS 0 requests and replies in flight are lost with the connection: not the blocks' fault,
    // so those requests do not count against max_requests_per_block. Marked unsent, they go out
    // again once the channel is back (here on_connected, or read() if it sees the link first),
    // exactly once.
    for (std::size_t i = 0; i < count_; ++i) {
        Slot& s = slot_at(i);
        if (s.have == s.want || !s.sent) continue;
        s.sent = false;
        --s.requests;
    }
}

void MqttByteSource::on_connected() {
    if (!open_) return;
    ++events_;
    for (std::size_t i = 0; i < count_; ++i) {
        Slot& s = slot_at(i);
        if (s.have < s.want && !s.sent) send(s);
    }
}

ReadResult MqttByteSource::read(std::uint8_t* buf, std::size_t len, milliseconds timeout) {
    if (!open_) return {Status::invalid_state};
    const auto deadline = clock_.now() + timeout;
    bool yielded = false;
    std::uint64_t before = 0;
    for (;;) {
        auto now = clock_.now();
        service_timers(now);
        ReadResult r;
        while (count_ > 0 && r.bytes < len) {
            Slot& s = slot_at(0);
            const std::size_t n = std::min(len - r.bytes, s.have - s.given);
            if (n == 0) break;
            std::memcpy(buf + r.bytes, s.data + s.given, n);
            s.given += n;
            r.bytes += n;
            pos_ += n;
            if (s.given == s.want) {
                head_ = (head_ + 1) % options_.window;
                --count_;
            }
        }
        // The bytes that came before a failure are handed out first: the next attempt then
        // starts after them.
        if (r.bytes == 0 && failed_) return {Status::timeout};
        if (r.bytes > 0 && !failed_) plan_slots();
        r.end_of_body = pos_ >= size_;
        if (r.bytes > 0 || r.end_of_body) {
            if (!head_given_) {
                const std::uint64_t total = total_ != 0 ? total_ : size_;
                head_info_ = ResponseHead{};
                if (offset_ == 0) {
                    head_info_.http_status = 200;
                    head_info_.content_length = total;
                } else {
                    head_info_.http_status = 206;
                    head_info_.content_length = total > offset_ ? total - offset_ : 0;
                    head_info_.content_range = "bytes " + std::to_string(offset_) + "-" +
                                               std::to_string(total > 0 ? total - 1 : 0) + "/" +
                                               std::to_string(total);
                }
                head_given_ = true;
                r.head = &head_info_;
            }
            return r;
        }
        now = clock_.now();
        if (yielded && (events_ == before || now >= deadline)) return {};
        auto until = deadline;
        for (std::size_t i = 0; i < count_; ++i) {
            const Slot& s = slot_at(i);
            if (s.sent && s.have < s.want) until = std::min(until, s.sent_at + slot_timeout(s));
        }
        const auto wait =
            until > now ? std::chrono::ceil<milliseconds>(until - now) : milliseconds(0);
        before = events_;
        yielded = true;
        (void)channel_.yield(wait);
    }
}

std::string MqttByteSource::last_error_detail() const {
    return error_;
}

}  // namespace ota
