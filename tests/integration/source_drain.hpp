// What the byte-source tests (curl_source_test.cpp, pool_source_test.cpp) share: HTTP options
// that trust the lab's CA, publishing a random file in the lab's www, and draining a source.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "lab.hpp"
#include "ota/byte_source.hpp"
#include "ota/options.hpp"

namespace ota::test {

/// HttpOptions that verify the lab's nginx with the lab's CA.
inline HttpOptions lab_http_options() {
    HttpOptions o;
    o.ca_file = Lab::get().ca_file;
    return o;
}

/// Puts `n` random bytes (from `seed`) into the lab's www as `name` and returns them.
inline std::vector<std::uint8_t> publish(const std::string& name, std::size_t n,
                                         std::uint32_t seed) {
    auto data = random_bytes(n, seed);
    Lab::get().put_file(name, data);
    return data;
}

/// What drain() read and how it ended.
struct Drained {
    Status status = Status::ok;
    std::vector<std::uint8_t> bytes;
    bool end = false;
    bool deadline_hit = false;
};

/// Reads `src` in pieces of `chunk` until end_of_body, a failure, `limit` bytes or two minutes;
/// each read waits up to 1 s, and `pause` is slept between reads (a slow consumer).
inline Drained drain(ByteSource& src, std::size_t chunk, std::size_t limit = SIZE_MAX,
                     std::chrono::milliseconds pause = std::chrono::milliseconds(0)) {
    Drained d;
    std::vector<std::uint8_t> buf(chunk);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (d.bytes.size() < limit) {
        if (std::chrono::steady_clock::now() > deadline) {
            d.deadline_hit = true;
            break;
        }
        const std::size_t want = std::min(chunk, limit - d.bytes.size());
        const ReadResult r = src.read(buf.data(), want, std::chrono::milliseconds(1000));
        if (r.status != Status::ok) {
            d.status = r.status;
            break;
        }
        EXPECT_LE(r.bytes, want);
        d.bytes.insert(d.bytes.end(), buf.begin(), buf.begin() + static_cast<long>(r.bytes));
        if (r.end_of_body) {
            d.end = true;
            break;
        }
        if (pause.count() > 0) std::this_thread::sleep_for(pause);
    }
    return d;
}

}  // namespace ota::test
