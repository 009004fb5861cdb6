// The rollout routes over real HTTPS: create, preview, list, view, actions and tasks, with the
// engine behind them; and their bad input (malformed JSON, unknown fields, unknown ids, bad
// filters), each refused with the store unchanged.
#include <chrono>
#include <thread>

#include "api_fixture.hpp"

namespace console::test {
namespace {

using nlohmann::json;

class RolloutApiTest : public ApiFixture {
  protected:
    void SetUp() override {
        ApiFixture::SetUp();
        const auto r = upload("firmware image", "product_key=pk&version=2.0.0");
        ASSERT_EQ(r->status, 201) << r->body;
        firmware_id_ = body_of(r)["id"].get<std::int64_t>();
        json devices = json::array();
        for (int i = 1; i <= 4; ++i) {
            devices.push_back({{"product_key", "pk"}, {"device_name", "d" + std::to_string(i)}});
        }
        ASSERT_EQ(
            client()
                ->Post("/api/v1/devices", json{{"devices", devices}}.dump(), "application/json")
                ->status,
            200);
        for (int i = 1; i <= 4; ++i) {
            store_->set_device_version({"pk", "d" + std::to_string(i)}, "default", "1.0.0",
                                       clock_.now());
        }
    }
    httplib::Result post(const std::string& path, const json& body) {
        return client()->Post(path.c_str(), body.dump(), "application/json");
    }
    std::int64_t firmware_id_ = 0;
};

TEST_F(RolloutApiTest, DownloadProtocolIsStoredAndShown) {
    auto r = post("/api/v1/rollouts", {{"firmware_id", firmware_id_},
                                       {"force", true},
                                       {"policy", {{"download_protocol", "mqtt"}}}});
    ASSERT_EQ(r->status, 201) << r->body;
    const json created = body_of(r);
    EXPECT_EQ(created["policy"]["download_protocol"], "mqtt");
    const auto id = created["id"].get<std::int64_t>();
    r = client()->Get(("/api/v1/rollouts/" + std::to_string(id)).c_str());
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(body_of(r)["rollout"]["policy"]["download_protocol"], "mqtt");
    r = post("/api/v1/rollouts", {{"firmware_id", firmware_id_}, {"force", true}});
    ASSERT_EQ(r->status, 201) << r->body;
    EXPECT_EQ(body_of(r)["policy"]["download_protocol"], "https");  // the default
}

TEST_F(RolloutApiTest, BadRolloutRequestsChangeNothing) {
    const json before = snapshot();
    auto c = client();
    EXPECT_API_ERROR(c->Post("/api/v1/rollouts", "{\"firmware_id\":", "application/json"), 400,
                     "invalid_argument", "malformed JSON");
    EXPECT_API_ERROR(post("/api/v1/rollouts", {{"firmware_id", firmware_id_}, {"speed", 3}}), 400,
                     "invalid_argument", "body.speed");
    EXPECT_API_ERROR(
        post("/api/v1/rollouts", {{"firmware_id", firmware_id_}, {"policy", {{"retries", 3}}}}),
        400, "invalid_argument", "body.policy.retries");
    EXPECT_API_ERROR(post("/api/v1/rollouts", {{"name", "no firmware"}}), 400, "invalid_argument",
                     "firmware_id");
    EXPECT_API_ERROR(post("/api/v1/rollouts", {{"firmware_id", firmware_id_},
                                               {"policy", {{"download_protocol", "ftp"}}}}),
                     400, "invalid_argument", "body.policy.download_protocol");
    EXPECT_API_ERROR(post("/api/v1/rollouts",
                          {{"firmware_id", firmware_id_}, {"policy", {{"download_protocol", 1}}}}),
                     400, "invalid_argument", "body.policy.download_protocol");
    EXPECT_API_ERROR(
        post("/api/v1/rollouts/preview", {{"firmware_id", 999}, {"selection", {{"tag", "x"}}}}),
        404, "not_found", "999");
    EXPECT_API_ERROR(post("/api/v1/firmware/999/verify", {{"device_names", {"d1"}}}), 404,
                     "not_found", "999");
    const std::string verify = "/api/v1/firmware/" + std::to_string(firmware_id_) + "/verify";
    EXPECT_API_ERROR(post(verify, {{"device_names", json::array()}}), 400, "invalid_argument",
                     "body.device_names");
    EXPECT_API_ERROR(post(verify, {{"device_names", {"d1"}}, {"phases", json::array()}}), 400,
                     "invalid_argument", "body.phases");
    EXPECT_API_ERROR(c->Post(verify.c_str(), "not json", "application/json"), 400,
                     "invalid_argument", "malformed JSON");
    EXPECT_API_ERROR(c->Get("/api/v1/rollouts/77"), 404, "not_found", "77");
    EXPECT_API_ERROR(c->Get("/api/v1/rollouts/-1"), 400, "invalid_argument", "rollout id");
    EXPECT_API_ERROR(c->Post("/api/v1/rollouts/77/pause", "", "application/json"), 404, "not_found",
                     "77");
    EXPECT_API_ERROR(c->Post("/api/v1/rollouts/77/explode", "", "application/json"), 404,
                     "not_found", "explode");
    EXPECT_API_ERROR(c->Get("/api/v1/rollouts/77/tasks"), 404, "not_found", "77");
    EXPECT_API_ERROR(c->Get("/api/v1/rollouts/77/tasks?state=done"), 400, "invalid_argument",
                     "state");
    EXPECT_API_ERROR(c->Get("/api/v1/rollouts/77/tasks?phase=first"), 400, "invalid_argument",
                     "phase");
    EXPECT_API_ERROR(c->Get("/api/v1/rollouts?cursor=c7a"), 400, "invalid_argument", "cursor");
    EXPECT_API_ERROR(c->Get("/api/v1/rollouts?state=running"), 400, "invalid_argument", "state");
    EXPECT_EQ(body_of(c->Get("/api/v1/rollouts")),
              (json{{"items", json::array()}, {"next_cursor", nullptr}}));
    EXPECT_EQ(snapshot(), before);
}

TEST_F(RolloutApiTest, VerifyRolloutRunsAndIsVisibleThroughTheApi) {
    const std::string fw_path = "/api/v1/firmware/" + std::to_string(firmware_id_);
    auto r = post(fw_path + "/verify",
                  {{"device_names", {"d1", "d2"}}, {"policy", {{"task_timeout_s", 600}}}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    const json created = body_of(r);
    EXPECT_EQ(created["kind"], "verify");
    EXPECT_EQ(created["firmware_id"], firmware_id_);
    EXPECT_EQ(created["selection"]["device_names"], json::array({"d1", "d2"}));
    EXPECT_EQ(created["policy"]["task_timeout_s"], 600);
    const std::string path = "/api/v1/rollouts/" + std::to_string(created["id"].get<int>());

    engine_->tick();  // starts it: tasks made, pushes sent
    {
        const std::lock_guard<std::mutex> lock(publisher_.mutex);
        ASSERT_EQ(publisher_.messages.size(), 2U);
        // The push's URL is a signed URL of this server that serves the image.
        const json push = json::parse(publisher_.messages[0].second);
        const std::string url = push["data"]["url"];
        ASSERT_EQ(url.rfind(server_->files_base_url() + "/files/", 0), 0U) << url;
        const auto file = files_client()->Get(url.substr(server_->files_base_url().size()).c_str());
        ASSERT_EQ(file->status, 200);
        EXPECT_EQ(file->body, "firmware image");
    }
    r = client()->Get(path.c_str());
    ASSERT_EQ(r->status, 200) << r->body;
    json view = body_of(r);
    EXPECT_EQ(view["rollout"]["state"], "running");
    EXPECT_EQ(view["firmware"]["id"], firmware_id_);
    EXPECT_EQ(view["counts"]["total"], 2);
    EXPECT_EQ(view["counts"]["by_state"]["notified"], 2);
    EXPECT_EQ(view["counts"]["by_state"].size(), 7U);
    ASSERT_EQ(view["counts"]["phases"].size(), 1U);
    EXPECT_EQ(view["counts"]["phases"][0]["total"], 2);

    // Tasks, filtered and paged.
    r = client()->Get((path + "/tasks?state=notified&phase=0&limit=1").c_str());
    ASSERT_EQ(r->status, 200) << r->body;
    json page = body_of(r);
    ASSERT_EQ(page["items"].size(), 1U);
    EXPECT_EQ(page["items"][0]["device_name"], "d1");
    r = client()->Get(
        (path + "/tasks?state=notified&limit=1&cursor=" + page["next_cursor"].get<std::string>())
            .c_str());
    page = body_of(r);
    ASSERT_EQ(page["items"].size(), 1U);
    EXPECT_EQ(page["items"][0]["device_name"], "d2");
    EXPECT_EQ(body_of(client()->Get((path + "/tasks?state=succeeded").c_str()))["items"],
              json::array());

    // d1 installs it, d2 fails: the API shows the states and the reason.
    ASSERT_TRUE(engine_->on_progress({"pk", "d1"}, "default", 100, ""));
    ASSERT_TRUE(engine_->on_inform({"pk", "d1"}, "default", "2.0.0"));
    ASSERT_TRUE(engine_->on_progress({"pk", "d2"}, "default", -2, "flash write failed"));
    engine_->tick();
    view = body_of(client()->Get(path.c_str()));
    EXPECT_EQ(view["counts"]["by_state"]["succeeded"], 1);
    EXPECT_EQ(view["counts"]["by_state"]["failed"], 1);
    ASSERT_EQ(view["failure_reasons"].size(), 1U) << view.dump();
    EXPECT_NE(view["failure_reasons"].begin().key().find("flash write failed"), std::string::npos);
    EXPECT_EQ(view["failure_reasons"].begin().value(), 1);
    r = client()->Get("/api/v1/devices/pk/d1");
    const json device = body_of(r);
    ASSERT_EQ(device["tasks"].size(), 1U);
    EXPECT_EQ(device["tasks"][0]["state"], "succeeded");
    EXPECT_EQ(device["device"]["versions"]["default"], "2.0.0");

    // retry-failed re-queues d2; it succeeds; the firmware is verified.
    r = client()->Post((path + "/retry-failed").c_str(), "", "application/json");
    ASSERT_EQ(r->status, 200) << r->body;
    engine_->tick();
    ASSERT_TRUE(engine_->on_progress({"pk", "d2"}, "default", 100, ""));
    ASSERT_TRUE(engine_->on_inform({"pk", "d2"}, "default", "2.0.0"));
    engine_->tick();
    view = body_of(client()->Get(path.c_str()));
    EXPECT_EQ(view["rollout"]["state"], "completed") << view.dump();
    EXPECT_EQ(body_of(client()->Get(
                  ("/api/v1/firmware/" + std::to_string(firmware_id_)).c_str()))["verified"],
              true);
    EXPECT_EQ(body_of(client()->Get("/api/v1/versions?product_key=pk"))["versions"],
              (json{{"1.0.0", 2}, {"2.0.0", 2}}));
    const auto metrics = client()->Get("/api/v1/metrics")->body;
    EXPECT_NE(metrics.find("ota_console_tasks{state=\"succeeded\"} 2\n"), std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("ota_console_rollouts{state=\"completed\"} 1\n"), std::string::npos);
}

TEST_F(RolloutApiTest, NormalRolloutPreviewActionsAndListing) {
    const json spec{{"firmware_id", firmware_id_},
                    {"name", "all of pk"},
                    {"selection", {{"source_versions", {"1.0.0"}}}},
                    {"phases", {{{"devices", 1}, {"success_percent", 100}}, json::object()}},
                    {"policy", {{"push_rate_per_minute", 60}}}};
    // Unverified firmware: needs force; refused with nothing stored.
    const json before = snapshot();
    auto r = post("/api/v1/rollouts", spec);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 409) << r->body;
    EXPECT_NE(body_of(r)["message"].get<std::string>().find("force"), std::string::npos) << r->body;
    EXPECT_EQ(snapshot(), before);

    json forced = spec;
    forced["force"] = true;
    r = post("/api/v1/rollouts/preview", forced);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(body_of(r), (json{{"matching", 4}}));
    json one = forced;
    one["selection"]["device_names"] = {"d2", "d3"};
    EXPECT_EQ(body_of(post("/api/v1/rollouts/preview", one)), (json{{"matching", 2}}));
    EXPECT_EQ(snapshot(), before) << "a preview stores nothing";

    r = post("/api/v1/rollouts", forced);
    ASSERT_EQ(r->status, 201) << r->body;
    const json created = body_of(r);
    EXPECT_EQ(created["name"], "all of pk");
    EXPECT_EQ(created["phases"].size(), 2U);
    const std::string path = "/api/v1/rollouts/" + std::to_string(created["id"].get<int>());
    engine_->tick();

    r = client()->Post((path + "/pause").c_str(), "", "application/json");
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(body_of(r)["state"], "paused");
    r = client()->Post((path + "/resume").c_str(), "{}", "application/json");
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(body_of(r)["state"], "running");
    EXPECT_API_ERROR(
        client()->Post((path + "/pause").c_str(), "{\"now\":true}", "application/json"), 400,
        "invalid_argument", "body");
    r = client()->Post((path + "/cancel").c_str(), "", "application/json");
    ASSERT_EQ(r->status, 200) << r->body;
    const std::string state = body_of(r)["state"];
    EXPECT_TRUE(state == "canceling" || state == "canceled") << state;

    // A second rollout; the list pages by id.
    ASSERT_EQ(post("/api/v1/rollouts", forced)->status, 201);
    r = client()->Get("/api/v1/rollouts?limit=1");
    json page = body_of(r);
    ASSERT_EQ(page["items"].size(), 1U);
    EXPECT_EQ(page["items"][0]["id"], created["id"]);
    page = body_of(client()->Get(
        ("/api/v1/rollouts?limit=1&cursor=" + page["next_cursor"].get<std::string>()).c_str()));
    ASSERT_EQ(page["items"].size(), 1U);
    EXPECT_NE(page["items"][0]["id"], created["id"]);
}

}  // namespace
}  // namespace console::test
