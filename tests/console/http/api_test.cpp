// REST API tests over real HTTPS: the token check, health, the page, devices, versions,
// metrics, routing errors, and bad input (malformed JSON, unknown fields and parameters, bad
// cursors and limits, unknown ids), each with its clear error and the store unchanged.
#include <regex>
#include <sstream>

#include "api_fixture.hpp"

namespace console::test {
namespace {

using nlohmann::json;

class ApiTest : public ApiFixture {
  protected:
    httplib::Result register_devices(const json& devices) {
        return client()->Post("/api/v1/devices", json{{"devices", devices}}.dump(),
                              "application/json");
    }
};

TEST_F(ApiTest, HealthNeedsNoTokenAndNamesTheStore) {
    const auto r = client(false)->Get("/api/v1/health");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    const json j = body_of(r);
    EXPECT_EQ(j["ok"], true);
    EXPECT_EQ(j["store"], store_->kind());
    EXPECT_EQ(j["scheduler"], false);
}

TEST_F(ApiTest, ServesThePageWithoutToken) {
    const auto r = client(false)->Get("/");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->get_header_value("Content-Type").find("text/html"), std::string::npos);
    EXPECT_NE(r->body.find("<html"), std::string::npos);
    EXPECT_EQ(client(false)->Get("/no-such-file.js")->status, 404);
}

TEST_F(ApiTest, RefusesMissingAndWrongTokensAndChangesNothing) {
    const json before = snapshot();
    const std::string body =
        json{{"devices", {{{"product_key", "pk"}, {"device_name", "d1"}}}}}.dump();
    EXPECT_API_ERROR(client(false)->Post("/api/v1/devices", body, "application/json"), 401,
                     "unauthenticated", "token is required");
    auto wrong = client(false);
    wrong->set_bearer_token_auth(std::string(kToken).replace(0, 1, "X").c_str());
    EXPECT_API_ERROR(wrong->Post("/api/v1/devices", body, "application/json"), 401,
                     "unauthenticated", "not valid");
    auto shorter = client(false);
    shorter->set_bearer_token_auth("0123");
    EXPECT_API_ERROR(shorter->Get("/api/v1/firmware"), 401, "unauthenticated", "not valid");
    // The token only counts in the header (the query form is for /events alone).
    EXPECT_API_ERROR(
        client(false)->Get((std::string("/api/v1/firmware?access_token=") + kToken).c_str()), 401,
        "unauthenticated", "required");
    EXPECT_API_ERROR(client(false)->Get("/api/v1/metrics"), 401, "unauthenticated", "");
    EXPECT_EQ(snapshot(), before);
    EXPECT_EQ(metrics_.http_unauthorized.load(), 5);
}

TEST_F(ApiTest, RegistersListsAndShowsDevices) {
    auto r = register_devices(
        json::array({{{"product_key", "pk"}, {"device_name", "d1"}, {"tags", {"lab", "eu", "lab"}}},
                     {{"product_key", "pk"}, {"device_name", "d2"}},
                     {{"product_key", "pk"}, {"device_name", "d3"}},
                     {{"product_key", "other"}, {"device_name", "x"}}}));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(body_of(r), (json{{"created", 4}, {"existing", 0}}));
    // curl -d sends JSON as a form body: still taken as JSON, its "fields" are no parameters.
    r = client()->Post("/api/v1/devices",
                       R"({"devices":[{"product_key":"pk","device_name":"d5"}]})",
                       "application/x-www-form-urlencoded");
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(body_of(r), (json{{"created", 1}, {"existing", 0}}));
    r = register_devices(json::array({{{"product_key", "pk"}, {"device_name", "d1"}},
                                      {{"product_key", "pk"}, {"device_name", "d4"}}}));
    EXPECT_EQ(body_of(r), (json{{"created", 1}, {"existing", 1}}));
    ASSERT_TRUE(store_->device({"pk", "d5"}));

    store_->set_device_version({"pk", "d1"}, "default", "1.0.0", clock_.now());
    store_->set_device_version({"pk", "d2"}, "default", "1.0.0", clock_.now() - 3600 * 1000);
    store_->set_device_version({"pk", "d3"}, "default", "2.0.0", clock_.now());

    // Pages of 2 through the whole product, in name order.
    std::vector<std::string> names;
    std::string query = "/api/v1/devices?product_key=pk&limit=2";
    for (int i = 0; i < 10; ++i) {
        r = client()->Get(query.c_str());
        ASSERT_EQ(r->status, 200) << r->body;
        const json j = body_of(r);
        for (const json& d : j["items"]) names.push_back(d["device_name"]);
        if (j["next_cursor"].is_null()) break;
        query =
            "/api/v1/devices?product_key=pk&limit=2&cursor=" + j["next_cursor"].get<std::string>();
    }
    EXPECT_EQ(names, (std::vector<std::string>{"d1", "d2", "d3", "d4", "d5"}));

    r = client()->Get("/api/v1/devices?product_key=pk&version=1.0.0&online=true");
    json j = body_of(r);
    ASSERT_EQ(j["items"].size(), 1U) << r->body;
    EXPECT_EQ(j["items"][0]["device_name"], "d1");
    EXPECT_EQ(j["items"][0]["tags"], json::array({"eu", "lab"}));
    EXPECT_EQ(j["items"][0]["online"], true);
    j = body_of(client()->Get("/api/v1/devices?tag=eu"));
    ASSERT_EQ(j["items"].size(), 1U);

    r = client()->Get("/api/v1/devices/pk/d3");
    ASSERT_EQ(r->status, 200);
    j = body_of(r);
    EXPECT_EQ(j["device"]["versions"]["default"], "2.0.0");
    EXPECT_EQ(j["tasks"], json::array());

    r = client()->Get("/api/v1/versions?product_key=pk");
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(body_of(r), (json{{"product_key", "pk"},
                                {"module", "default"},
                                {"versions", {{"1.0.0", 2}, {"2.0.0", 1}, {"unknown", 2}}}}));
}

TEST_F(ApiTest, BadDeviceRequestsNameTheProblemAndChangeNothing) {
    ASSERT_EQ(
        register_devices(json::array({{{"product_key", "pk"}, {"device_name", "d1"}}}))->status,
        200);
    const json before = snapshot();
    auto c = client();
    EXPECT_API_ERROR(c->Post("/api/v1/devices", "{\"devices\": [", "application/json"), 400,
                     "invalid_argument", "malformed JSON");
    EXPECT_API_ERROR(c->Post("/api/v1/devices", "", "application/json"), 400, "invalid_argument",
                     "body");
    EXPECT_API_ERROR(c->Post("/api/v1/devices", "[1,2]", "application/json"), 400,
                     "invalid_argument", "object");
    EXPECT_API_ERROR(register_devices(json::array(
                         {{{"product_key", "pk"}, {"device_name", "d2"}},
                          {{"product_key", "pk"}, {"device_name", "d3"}, {"colour", "red"}}})),
                     400, "invalid_argument", "body.devices[1].colour");
    EXPECT_API_ERROR(c->Post("/api/v1/devices", json{{"devices", json::array()}, {"x", 1}}.dump(),
                             "application/json"),
                     400, "invalid_argument", "body.x");
    EXPECT_API_ERROR(
        register_devices(json::array({{{"product_key", "pk"}, {"device_name", "a/b"}}})), 400,
        "invalid_argument", "body.devices[0].device_name");
    EXPECT_API_ERROR(register_devices(json::array({{{"product_key", "pk"}}})), 400,
                     "invalid_argument", "device_name: required");
    EXPECT_API_ERROR(register_devices(json::array()), 400, "invalid_argument", "1 to 10000");
    EXPECT_API_ERROR(c->Get("/api/v1/devices?product=pk"), 400, "invalid_argument", "\"product\"");
    EXPECT_API_ERROR(c->Get("/api/v1/devices?limit=5&product%5Fkey2=pk"), 400, "invalid_argument",
                     "\"product_key2\"");
    EXPECT_API_ERROR(c->Get("/api/v1/devices?limit=0"), 400, "invalid_argument", "limit");
    EXPECT_API_ERROR(c->Get("/api/v1/devices?limit=1001"), 400, "invalid_argument", "limit");
    EXPECT_API_ERROR(c->Get("/api/v1/devices?limit=ten"), 400, "invalid_argument", "limit");
    EXPECT_API_ERROR(c->Get("/api/v1/devices?cursor=zzz"), 400, "invalid_argument", "cursor");
    EXPECT_API_ERROR(c->Get("/api/v1/devices?cursor=c6964"), 400, "invalid_argument", "cursor");
    EXPECT_API_ERROR(c->Get("/api/v1/devices?online=yes"), 400, "invalid_argument", "online");
    EXPECT_API_ERROR(c->Get("/api/v1/devices/pk/nobody"), 404, "not_found", "pk/nobody");
    EXPECT_API_ERROR(c->Get("/api/v1/versions"), 400, "invalid_argument", "product_key");
    EXPECT_EQ(snapshot(), before);
}

TEST_F(ApiTest, UnknownRoutesAndMethods) {
    auto c = client();
    EXPECT_API_ERROR(c->Get("/api/v1/nothing"), 404, "not_found", "/api/v1/nothing");
    EXPECT_API_ERROR(c->Delete("/api/v1/devices"), 405, "method_not_allowed", "DELETE");
    EXPECT_API_ERROR(c->Put("/api/v1/firmware", "x", "text/plain"), 405, "method_not_allowed",
                     "PUT");
    EXPECT_API_ERROR(c->Get("/api/v1/firmware/abc"), 400, "invalid_argument", "firmware id");
    EXPECT_API_ERROR(c->Get("/api/v1/firmware/42"), 404, "not_found", "42");
}

TEST_F(ApiTest, MetricsAreValidPrometheusText) {
    ASSERT_EQ(register_devices(json::array({{{"product_key", "pk"}, {"device_name", "d1"}},
                                            {{"product_key", "pk"}, {"device_name", "d2"}}}))
                  ->status,
              200);
    store_->touch_device({"pk", "d1"}, clock_.now());
    metrics_.pushes_sent = 7;
    (void)client(false)->Get("/api/v1/firmware");  // one unauthorized request
    const auto r = client()->Get("/api/v1/metrics");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    EXPECT_NE(r->get_header_value("Content-Type").find("text/plain"), std::string::npos);
    const std::regex sample(R"(^(ota_console_[a-z_]+)(\{state="[a-z_]+"\})? (-?[0-9]+)$)");
    const std::regex type(R"(^# TYPE ota_console_[a-z_]+ (counter|gauge)$)");
    std::map<std::string, std::string> values;
    std::istringstream lines(r->body);
    std::string line;
    int samples = 0;
    while (std::getline(lines, line)) {
        std::smatch m;
        if (std::regex_match(line, m, sample)) {
            values[m[1].str() + m[2].str()] = m[3];
            ++samples;
        } else {
            EXPECT_TRUE(std::regex_match(line, type)) << "not Prometheus text: " << line;
        }
    }
    EXPECT_GE(samples, 15 + 7 + 6 + 1);
    EXPECT_EQ(values["ota_console_pushes_sent"], "7");
    EXPECT_EQ(values["ota_console_devices_online"], "1");
    EXPECT_EQ(values["ota_console_http_unauthorized"], "1");
    EXPECT_EQ(values["ota_console_tasks{state=\"timed_out\"}"], "0");
    EXPECT_EQ(values["ota_console_rollouts{state=\"running\"}"], "0");
    EXPECT_GE(std::stoi(values["ota_console_http_requests"]), 2);
}

#ifndef OTA_HTTP_TEST_SQLITE  // store-independent: once is enough
TEST(ApiServerStart, ReportsABusyPortAndBadCertificates) {
    char dir[] = "/tmp/ota_console_http_XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    FakeClock clock;
    LockedStore store;
    RecordingPublisher publisher;
    Metrics metrics;
    Engine engine(store, clock, publisher, [](const Firmware&) { return std::string(); });
    HttpOptions o;
    o.port = 0;
    o.token = kToken;
    o.data_dir = dir;
    ApiServer first(store, engine, metrics, clock, o);
    first.start();
    o.port = first.port();
    ApiServer second(store, engine, metrics, clock, o);
    try {
        second.start();
        ADD_FAILURE() << "a second server bound the same port";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find(std::to_string(o.port)), std::string::npos)
            << e.what();
    }
    o.port = 0;
    o.tls_cert_file = std::string(dir) + "/missing.pem";
    o.tls_key_file = std::string(dir) + "/missing-key.pem";
    ApiServer third(store, engine, metrics, clock, o);
    EXPECT_THROW(third.start(), std::runtime_error);
    o.tls_key_file.clear();
    EXPECT_THROW(ApiServer(store, engine, metrics, clock, o), std::runtime_error);
    first.stop();
    std::filesystem::remove_all(dir);
}
#endif

}  // namespace
}  // namespace console::test
