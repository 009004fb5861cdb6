// GET /events over real HTTPS: a state change reaches an open stream, Last-Event-ID and ?after=
// replay from a point, ?access_token= works (EventSource cannot send headers), pings keep the
// stream alive, and stop() ends open streams promptly.
#include <chrono>
#include <condition_variable>
#include <thread>

#include "api_fixture.hpp"

namespace console::test {
namespace {

using namespace std::chrono_literals;

/// Reads an event stream on its own thread until told to stop or the server ends it.
class StreamReader {
  public:
    StreamReader(httplib::SSLClient& client, std::string path, httplib::Headers headers = {})
        : thread_([this, &client, path = std::move(path), headers = std::move(headers)] {
              auto r = client.Get(path.c_str(), headers, [this](const char* data, std::size_t n) {
                  const std::lock_guard<std::mutex> lock(mutex_);
                  text_.append(data, n);
                  changed_.notify_all();
                  return !quit_;
              });
              const std::lock_guard<std::mutex> lock(mutex_);
              status_ = r ? r->status : -1;
              ended_ = true;
              changed_.notify_all();
          }) {}
    ~StreamReader() {
        {
            const std::lock_guard<std::mutex> lock(mutex_);
            quit_ = true;
        }
        thread_.join();
    }
    /// Waits (at most 5 s) until the text read so far contains `what`.
    bool wait_for(const std::string& what) {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, 5s, [&] {
            return text_.find(what) != std::string::npos || ended_;
        }) && text_.find(what) != std::string::npos;
    }
    bool wait_ended(std::chrono::milliseconds within) {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, within, [&] { return ended_; });
    }
    std::string text() {
        const std::lock_guard<std::mutex> lock(mutex_);
        return text_;
    }
    int status() {
        const std::lock_guard<std::mutex> lock(mutex_);
        return status_;
    }

  private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::string text_;
    bool quit_ = false;
    bool ended_ = false;
    int status_ = 0;
    std::thread thread_;
};

class EventsTest : public ApiFixture {
  protected:
    std::int64_t add_event(const std::string& type, const std::string& json) {
        Event e;
        e.at = clock_.now();
        e.type = type;
        e.json = json;
        return store_->append_event(e);
    }
};

TEST_F(EventsTest, AStateChangeReachesAnOpenStream) {
    add_event("rollout", R"({"id":1,"old":true})");
    auto c = client();
    StreamReader reader(*c, "/api/v1/events");
    ASSERT_TRUE(reader.wait_for(": connected"));
    EXPECT_EQ(metrics_.sse_clients.load(), 1);
    const auto r = upload("image bytes", "product_key=pk&version=1.0.0");
    ASSERT_EQ(r->status, 201);
    ASSERT_TRUE(reader.wait_for("event: firmware\ndata: {")) << reader.text();
    const std::string text = reader.text();
    EXPECT_NE(text.find("id: 2\nevent: firmware\ndata: " + r->body + "\n\n"), std::string::npos)
        << text;
    EXPECT_EQ(text.find("\"old\""), std::string::npos) << "a new client sees only new events";
    // Quiet streams get ping comments.
    EXPECT_TRUE(reader.wait_for(": ping\n\n"));
}

TEST_F(EventsTest, ARolloutStateChangeReachesTheStream) {
    ASSERT_EQ(
        client()
            ->Post("/api/v1/devices", R"({"devices":[{"product_key":"pk","device_name":"d1"}]})",
                   "application/json")
            ->status,
        200);
    const auto fw = upload("image", "product_key=pk&version=2.0.0");
    ASSERT_EQ(fw->status, 201);
    const auto id = body_of(fw)["id"].get<int>();
    const auto r = client()->Post(("/api/v1/firmware/" + std::to_string(id) + "/verify").c_str(),
                                  R"({"device_names":["d1"]})", "application/json");
    ASSERT_EQ(r->status, 201) << r->body;
    engine_->tick();
    auto c = client();
    StreamReader reader(*c, "/api/v1/events");
    ASSERT_TRUE(reader.wait_for(": connected"));
    const std::string rollout = std::to_string(body_of(r)["id"].get<int>());
    ASSERT_EQ(client()
                  ->Post(("/api/v1/rollouts/" + rollout + "/pause").c_str(), "", "text/plain")
                  ->status,
              200);
    ASSERT_TRUE(reader.wait_for("\"state\":\"paused\"")) << reader.text();
    EXPECT_NE(reader.text().find("event: rollout\ndata: {"), std::string::npos) << reader.text();
}

TEST_F(EventsTest, ReplaysFromLastEventIdOrAfterWithTheQueryToken) {
    for (int i = 1; i <= 3; ++i) add_event("task", "{\"n\":" + std::to_string(i) + "}");
    auto c = client();
    {
        StreamReader reader(*c, "/api/v1/events", {{"Last-Event-ID", "1"}});
        ASSERT_TRUE(reader.wait_for("id: 3\n")) << reader.text();
        EXPECT_EQ(reader.text().find("id: 1\n"), std::string::npos);
        EXPECT_NE(reader.text().find("id: 2\nevent: task\ndata: {\"n\":2}\n\n"), std::string::npos);
    }
    auto anonymous = client(false);
    StreamReader reader(*anonymous, std::string("/api/v1/events?after=0&access_token=") + kToken);
    ASSERT_TRUE(reader.wait_for("id: 3\n")) << reader.text();
    EXPECT_NE(reader.text().find("id: 1\n"), std::string::npos);
}

TEST_F(EventsTest, RefusesBadTokensAndParameters) {
    auto c = client(false);
    EXPECT_API_ERROR(c->Get("/api/v1/events?access_token=wrong"), 401, "unauthenticated", "");
    EXPECT_API_ERROR(client()->Get("/api/v1/events?after=x"), 400, "invalid_argument", "after");
    EXPECT_API_ERROR(client()->Get("/api/v1/events?since=1"), 400, "invalid_argument", "since");
}

TEST_F(EventsTest, StopEndsOpenStreamsPromptly) {
    auto c1 = client();
    auto c2 = client();
    StreamReader a(*c1, "/api/v1/events");
    StreamReader b(*c2, "/api/v1/events");
    ASSERT_TRUE(a.wait_for(": connected"));
    ASSERT_TRUE(b.wait_for(": connected"));
    const auto start = std::chrono::steady_clock::now();
    server_->stop();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
    EXPECT_TRUE(a.wait_ended(3s));
    EXPECT_TRUE(b.wait_ended(3s));
    EXPECT_EQ(metrics_.sse_clients.load(), 0);
}

class CappedEventsTest : public EventsTest {
  protected:
    void customize(HttpOptions& o) override { o.max_event_streams = 2; }
};

/// Each open stream holds an API thread: past the cap a client gets 503 (and the API still
/// answers); a stream that ends frees its place.
TEST_F(CappedEventsTest, StreamsBeyondTheCapAreRefusedUntilOneEnds) {
    auto c1 = client();
    auto c2 = client();
    auto a = std::make_unique<StreamReader>(*c1, "/api/v1/events");
    StreamReader b(*c2, "/api/v1/events");
    ASSERT_TRUE(a->wait_for(": connected"));
    ASSERT_TRUE(b.wait_for(": connected"));
    EXPECT_API_ERROR(client()->Get("/api/v1/events"), 503, "unavailable", "event streams");
    EXPECT_EQ(client()->Get("/api/v1/firmware")->status, 200);
    a.reset();  // the server notices at its next write (a ping within 300 ms)
    bool reopened = false;
    for (int i = 0; i < 50 && !reopened; ++i) {
        auto c3 = client();
        StreamReader again(*c3, "/api/v1/events");
        reopened = again.wait_for(": connected");
        if (!reopened) std::this_thread::sleep_for(100ms);
    }
    EXPECT_TRUE(reopened);
}

/// A new client starts after the newest stored event (however many there are) and sees only
/// what happens from then on.
TEST_F(EventsTest, ANewClientStartsAfterTheNewestEvent) {
    for (int i = 0; i < 2500; ++i) add_event("task", "{\"old\":" + std::to_string(i) + "}");
    auto c = client();
    StreamReader reader(*c, "/api/v1/events");
    ASSERT_TRUE(reader.wait_for(": connected"));
    const std::int64_t seq = add_event("task", R"({"new":true})");
    ASSERT_TRUE(reader.wait_for("id: " + std::to_string(seq) + "\n")) << reader.text();
    EXPECT_EQ(reader.text().find("\"old\""), std::string::npos);
}

}  // namespace
}  // namespace console::test
