// Two ota_console processes on one PostgreSQL database (a fresh database in the `pg` fixture's
// cluster) and the lab's broker: exactly one is the scheduler, the shared subscription hands
// every device message to exactly one of them, a verify rollout created through one completes,
// and when the scheduler stops the other one takes over.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "console_process.hpp"
#include "lab.hpp"
#include "ota/paho/paho_channel.hpp"

namespace console::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ota::test::BackgroundProcess;
using ota::test::Device;
using ota::test::Lab;
using ota::test::TempDir;
using std::chrono::seconds;

// PG_URL from the fixture's pg.env.
std::string pg_url() {
    std::ifstream in(OTA_PG_ENV_FILE);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("PG_URL=", 0) == 0) {
            std::string v = line.substr(7);
            if (v.size() >= 2 && (v.front() == '"' || v.front() == '\''))
                v = v.substr(1, v.size() - 2);
            return v;
        }
    }
    return {};
}

// A fresh database in the cluster; returns its URL ("" on failure, with a test failure).
std::string fresh_database(const std::string& url, const std::string& name) {
    PGconn* conn = PQconnectdb(url.c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
        ADD_FAILURE() << "cannot connect to the pg fixture: " << PQerrorMessage(conn);
        PQfinish(conn);
        return {};
    }
    PGresult* res = PQexec(conn, ("CREATE DATABASE " + name).c_str());
    const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) ADD_FAILURE() << "CREATE DATABASE failed: " << PQerrorMessage(conn);
    PQclear(res);
    PQfinish(conn);
    if (!ok) return {};
    // postgresql://user@host:port/db[?query]: replace the database name.
    const std::size_t scheme = url.find("://");
    const std::size_t slash = url.find('/', scheme + 3);
    const std::size_t query = url.find('?', scheme + 3);
    const std::string tail = query == std::string::npos ? "" : url.substr(query);
    const std::string head = url.substr(
        0, slash == std::string::npos ? (query == std::string::npos ? url.size() : query) : slash);
    return head + "/" + name + tail;
}

bool is_scheduler(const ConsoleProcess& c) {
    const ApiReply r = c.get("/health");
    return r.status == 200 && r.json.is_object() && r.json.value("scheduler", false);
}

// Device messages applied (registered devices only: the broker also hands these consoles the
// messages of other tests' devices, which are unknown here).
double processed(const ConsoleProcess& c) {
    return c.metric("ota_console_mqtt_messages_processed");
}

TEST(ConsolePg, TwoConsolesOnOneDatabase) {
    const Lab& lab = Lab::get();
    const std::string base_url = pg_url();
    ASSERT_FALSE(base_url.empty()) << "no PG_URL in " << OTA_PG_ENV_FILE;
    const std::string db = fresh_database(base_url, "console_it_" + std::to_string(::getpid()));
    ASSERT_FALSE(db.empty());
    TempDir tmp;
    // One data directory for both (firmware files, token, URL secret); PostgreSQL allows it.
    const fs::path data = tmp.path() / "data";
    const std::string group = "pg" + std::to_string(::getpid());
    auto a = std::make_unique<ConsoleProcess>(
        lab, data, "pa", std::vector<std::string>{"--db", db, "--share-group", group});
    ASSERT_TRUE(a->ok());
    auto b = std::make_unique<ConsoleProcess>(
        lab, data, "pb", std::vector<std::string>{"--db", db, "--share-group", group});
    ASSERT_TRUE(b->ok());
    EXPECT_EQ(a->get("/health").json.value("store", ""), "postgresql");

    // Exactly one scheduler, and it stays one.
    ASSERT_TRUE(wait_until([&] { return is_scheduler(*a) || is_scheduler(*b); }, seconds(10)));
    for (int i = 0; i < 5; ++i) {
        EXPECT_NE(is_scheduler(*a), is_scheduler(*b));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }

    const std::vector<Device> devs = make_product_devices("pg", 2, lab);
    const Device& da = devs[0];
    const Device& db_ = devs[1];
    register_devices(*a, {da, db_});
    BackgroundProcess pa(ota::test::ota_mqtt_cmd(lab, da, tmp.path() / "a.bin", {"--serve"}),
                         tmp.path() / "a.log");
    BackgroundProcess pb(ota::test::ota_mqtt_cmd(lab, db_, tmp.path() / "b.bin", {"--serve"}),
                         tmp.path() / "b.log");
    for (const Device& d : {da, db_}) {
        EXPECT_TRUE(wait_until([&] { return reported_version(*b, d) == "1.0.0"; }, seconds(20)))
            << d.dn;
    }

    // Each device message is taken by exactly one console (the shared subscription).
    const double before = processed(*a) + processed(*b);
    ota::PahoChannel cloud(lab.cloud_mqtt("pg-cloud-" + std::to_string(::getpid())));
    ASSERT_TRUE(cloud.connect().ok());
    constexpr int kMessages = 40;
    for (int i = 0; i < kMessages; ++i) {
        ASSERT_EQ(cloud.publish(
                      "/ota/device/inform/" + da.pk + "/" + da.dn,
                      R"({"id":")" + std::to_string(i) + R"(","params":{"version":"1.0.0"}})", 1),
                  ota::Status::ok);
    }
    EXPECT_TRUE(wait_until([&] { return processed(*a) + processed(*b) >= before + kMessages; },
                           seconds(10)));
    std::this_thread::sleep_for(std::chrono::seconds(1));
    EXPECT_EQ(processed(*a) + processed(*b), before + kMessages);

    // A verify rollout created through the other console completes.
    const json fw = upload_firmware(*a, da.pk, "2.0.0", ota::test::random_bytes(200 * 1024, 41));
    const ApiReply created = b->post("/firmware/" + std::to_string(fw["id"].get<int>()) + "/verify",
                                     json{{"device_names", {da.dn, db_.dn}}});
    ASSERT_EQ(created.status, 201) << created.body;
    const std::int64_t id = created.json["id"].get<std::int64_t>();
    json view;
    EXPECT_TRUE(wait_until(
        [&] {
            view = rollout_view(*a, id);
            return count_in(view, "succeeded") == 2;
        },
        seconds(60)))
        << view.dump(1) << a->output() << b->output();
    EXPECT_TRUE(wait_until(
        [&] { return rollout_view(*b, id)["rollout"].value("state", "") == "completed"; },
        seconds(10)));
    EXPECT_EQ(reported_version(*a, db_), "2.0.0");

    // The scheduler stops: the other console takes the role.
    const bool a_was = is_scheduler(*a);
    ConsoleProcess& leaving = a_was ? *a : *b;
    ConsoleProcess& staying = a_was ? *b : *a;
    leaving.process().kill(SIGTERM);
    EXPECT_EQ(leaving.process().wait(15), 0) << leaving.output();
    EXPECT_TRUE(wait_until([&] { return is_scheduler(staying); }, seconds(15))) << staying.output();
}

}  // namespace
}  // namespace console::test
