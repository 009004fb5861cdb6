// The rollout routes over real HTTPS: create, preview, list, view, actions and tasks, with the
// engine behind them; and their bad input (malformed JSON, unknown fields, unknown ids, bad
// filters), each refused with the store unchanged.
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
            store_.set_device_version({"pk", "d" + std::to_string(i)}, "default", "1.0.0",
                                      clock_.now());
        }
    }
    httplib::Result post(const std::string& path, const json& body) {
        return client()->Post(path.c_str(), body.dump(), "application/json");
    }
    std::int64_t firmware_id_ = 0;
};

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

}  // namespace
}  // namespace console::test
