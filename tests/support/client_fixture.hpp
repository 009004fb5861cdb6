// Fixture code shared by the OtaClient unit tests: the fakes, the example device and its topics,
// body generators, digests, the base ClientOptions and ClientHarness, the one test fixture every
// client test derives from. Test files bring it in with
// `using namespace ota::test::client_fixture;` (their own declarations take precedence).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ota/client.hpp"
#include "ota/digest.hpp"
#include "support/fake_broker.hpp"
#include "support/memory_sink.hpp"
#include "support/scripted_source.hpp"

namespace ota::test::client_fixture {

using ota::test::FakeBroker;
using ota::test::FakeChannel;
using ota::test::ManualClock;
using ota::test::MemorySink;
using ota::test::ScriptedResponse;
using ota::test::ScriptedSource;

/// The example device of the platform's documentation, and its topics.
inline constexpr const char* kPk = "a1X2bEnP82z";
inline constexpr const char* kDn = "example1";
inline const std::string kUpgradeTopic = "/ota/device/upgrade/a1X2bEnP82z/example1";
inline const std::string kInformTopic = "/ota/device/inform/a1X2bEnP82z/example1";
inline const std::string kProgressTopic = "/ota/device/progress/a1X2bEnP82z/example1";
inline const std::string kGetTopic = "/sys/a1X2bEnP82z/example1/thing/ota/firmware/get";
inline const std::string kGetReplyTopic = "/sys/a1X2bEnP82z/example1/thing/ota/firmware/get_reply";

/// A signed OSS URL as the platform sends it (its query string must never be logged).
inline const std::string kUrl =
    "https://ota.example.com/fw/image.bin?Expires=1582951757&OSSAccessKeyId=KEYID&Signature="
    "SECRETSIGNATURE";

/// `n` bytes, byte i = (i * mul + add) mod 256.
inline std::vector<std::uint8_t> pattern(std::size_t n, unsigned mul, unsigned add) {
    std::vector<std::uint8_t> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>((i * mul + add) & 0xFFU);
    return out;
}

/// Lower-case hex digest of `body` (fails the test when hashing fails).
inline std::string hex_of(DigestAlgorithm alg, const std::vector<std::uint8_t>& body) {
    std::string out;
    EXPECT_TRUE(ota::digest_hex(alg, body.data(), body.size(), out).ok());
    return out;
}

/// Lower-case hex MD5 of `body`.
inline std::string md5_of(const std::vector<std::uint8_t>& body) {
    return hex_of(DigestAlgorithm::md5, body);
}

/// ClientOptions for the example device, everything else at its default.
inline ClientOptions device_options() {
    ClientOptions o;
    o.product_key = kPk;
    o.device_name = kDn;
    return o;
}

/// The rig of a client test: a broker with the device's channel, a scripted byte source, a
/// manual clock, a memory sink and the client under test (made by create_client()), plus what the
/// tests read back from the broker. Test files derive their fixtures from it and add their own
/// helpers.
class ClientHarness : public ::testing::Test {
  protected:
    /// Makes the client from `o` and initialises it; the test fails when init() does.
    void create_client(ClientOptions o) {
        client = std::make_unique<OtaClient>(channel, source, std::move(o), clock);
        const Error e = client->init();
        ASSERT_TRUE(e.ok()) << e.message();
    }

    /// Every progress message the device published, parsed.
    std::vector<nlohmann::json> progress_messages() const {
        std::vector<nlohmann::json> out;
        for (const auto& m : broker.published_on(kProgressTopic)) {
            out.push_back(nlohmann::json::parse(m.payload));
        }
        return out;
    }

    /// The progress steps the device published, in order.
    std::vector<int> steps() const {
        std::vector<int> out;
        for (const auto& j : progress_messages()) out.push_back(step_of(j));
        return out;
    }

    /// The progress messages with a failure step (< 0).
    std::vector<nlohmann::json> failures() const {
        std::vector<nlohmann::json> out;
        for (const auto& j : progress_messages()) {
            if (step_of(j) < 0) out.push_back(j);
        }
        return out;
    }

    /// "<step> <desc>" of every failure report.
    std::vector<std::string> failure_descs() const {
        std::vector<std::string> out;
        for (const auto& j : failures()) {
            out.push_back(j.at("params").at("step").get<std::string>() + " " +
                          j.at("params").at("desc").get<std::string>());
        }
        return out;
    }

    /// Fetches to the end (advancing the clock 50 ms per call) and runs check_firmware(); the
    /// test fails unless the client is then FETCHED and the check returns ok. Returns `valid`.
    bool fetch_and_check() {
        std::vector<std::uint8_t> buf(1000);
        for (int i = 0; i < 10000 && client->is_fetching(); ++i) {
            const FetchResult r =
                client->fetch_yield(buf.data(), buf.size(), std::chrono::milliseconds(100));
            if (r.status != Status::ok) break;
            clock.advance(std::chrono::milliseconds(50));
        }
        EXPECT_EQ(client->state(), OtaState::fetched);
        bool valid = false;
        const Error e = client->check_firmware(valid);
        EXPECT_TRUE(e.ok()) << e.message();
        return valid;
    }

    FakeBroker broker;
    FakeChannel channel{broker, "dev"};
    ScriptedSource source;
    ManualClock clock;
    MemorySink sink{1U << 16};
    std::unique_ptr<OtaClient> client;

  private:
    static int step_of(const nlohmann::json& j) {
        return std::stoi(j.at("params").at("step").get<std::string>());
    }
};

}  // namespace ota::test::client_fixture
