// OtaClient with pushes that only the lenient decoder accepts (issue 11, item 1): counts as
// decimal strings and a non-object extData run as ordinary jobs; an unknown dProtocol is reported
// to the cloud as step -1 naming the field.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ota/client.hpp"
#include "ota/signature.hpp"
#include "support/client_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ota::ClientOptions;
using ota::Error;
using ota::FetchResult;
using ota::OtaState;
using ota::Status;
using ota::UpgradeJob;
using namespace ota::test::client_fixture;

const std::vector<std::uint8_t> kBody = pattern(6000, 17, 3);

json data_for(const std::vector<std::uint8_t>& body) {
    return {{"version", "2.0.0"},
            {"size", std::to_string(body.size())},
            {"url", kUrl},
            {"md5", md5_of(body)},
            {"isDiff", "0"}};
}

class ClientLenientPushTest : public ClientHarness {
  protected:
    void SetUp() override {
        ScriptedResponse r;
        r.content_length = kBody.size();
        r.body = kBody;
        r.max_chunk = 1500;
        source.set_response(r);
    }

    void make_client(ClientOptions o = device_options()) {
        create_client(std::move(o));
        ASSERT_TRUE(client->set_sink(&sink).ok());
        client->set_job_handler([this](const UpgradeJob& job) { handled.push_back(job); });
    }

    void push(const json& data) {
        broker.publish(kUpgradeTopic, json{{"code", "1000"}, {"data", data}, {"id", 3}}.dump());
        ASSERT_TRUE(client->poll(0ms).ok());
    }

    std::vector<UpgradeJob> handled;
};

TEST_F(ClientLenientPushTest, CountsAsDecimalStringsRunAsAnOrdinaryJob) {
    make_client();
    push(data_for(kBody));
    ASSERT_EQ(handled.size(), 1U);
    EXPECT_EQ(client->file_size(), kBody.size());
    EXPECT_TRUE(fetch_and_check());
    EXPECT_EQ(sink.data(), kBody);
    EXPECT_EQ(sink.phase(), MemorySink::Phase::committed);
    EXPECT_TRUE(failures().empty());
}

TEST_F(ClientLenientPushTest, NonObjectExtDataReachesTheApplicationAsJsonText) {
    make_client();
    json data = data_for(kBody);
    data["extData"] = json::array({"a", 1});
    push(data);
    ASSERT_EQ(handled.size(), 1U);
    EXPECT_EQ(handled[0].ext_data_json, R"(["a",1])");
    ASSERT_NE(client->job(), nullptr);
    EXPECT_EQ(client->job()->ext_data_json, R"(["a",1])");
    EXPECT_TRUE(fetch_and_check());
    EXPECT_TRUE(failures().empty());
}

TEST_F(ClientLenientPushTest, NonObjectExtDataIsNoSignatureForARequiredSignaturePolicy) {
    ClientOptions o = device_options();
    auto keys = std::make_shared<ota::SignatureVerifier>();
    ASSERT_TRUE(
        keys->add_public_key_file(std::string(OTA_TEST_DATA_DIR) + "/ec_p256_public.pem", "k1")
            .ok());
    o.signature.required = true;
    o.signature.verifier = keys;
    make_client(o);
    json data = data_for(kBody);
    // A signature-shaped text inside a string is not a signature object.
    data["extData"] = R"({"signature":{"alg":"ES256","sig":"AAAA","keyId":"k1"}})";
    push(data);
    ASSERT_EQ(handled.size(), 1U);
    EXPECT_FALSE(fetch_and_check());
    EXPECT_EQ(sink.commits, 0U);
    ASSERT_EQ(failures().size(), 1U);
    EXPECT_EQ(failures()[0]["params"]["step"], "-3");
    const std::string desc = failures()[0]["params"]["desc"].get<std::string>();
    EXPECT_NE(desc.find("carries none"), std::string::npos) << desc;
}

TEST_F(ClientLenientPushTest, UnknownDProtocolIsReportedAsMinus1NamingTheField) {
    make_client();
    json data = data_for(kBody);
    data["dProtocol"] = "coap";
    push(data);
    EXPECT_TRUE(handled.empty());
    EXPECT_EQ(client->state(), OtaState::inited);
    EXPECT_EQ(client->last_error().status, Status::malformed_message);
    const auto f = failures();
    ASSERT_EQ(f.size(), 1U);
    EXPECT_EQ(f[0]["params"]["step"], "-1");
    const std::string desc = f[0]["params"]["desc"].get<std::string>();
    EXPECT_NE(desc.find("data.dProtocol"), std::string::npos) << desc;
    EXPECT_EQ(desc.find("url"), std::string::npos) << "no misleading url text: " << desc;
}

}  // namespace
