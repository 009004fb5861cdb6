// Real ota_console processes for the integration tests: see console_process.hpp.
#include "console_process.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

namespace console::test {

namespace fs = std::filesystem;
using nlohmann::json;

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (cond()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

std::vector<std::string> console_cmd(const ota::test::Lab& lab, const fs::path& data_dir,
                                     std::vector<std::string> extra) {
    fs::create_directories(data_dir);
    const fs::path pw = data_dir.parent_path() / (data_dir.filename().string() + ".broker-pw");
    if (!fs::exists(pw)) {
        std::ofstream(pw) << lab.cloud_password << "\n";
    }
    std::vector<std::string> cmd = {OTA_BIN_DIR "/ota_console",
                                    "--data",
                                    data_dir.string(),
                                    "--broker-host",
                                    "127.0.0.1",
                                    "--broker-port",
                                    std::to_string(lab.mqtt_tls_port),
                                    "--broker-ca",
                                    lab.ca_file,
                                    "--broker-user",
                                    lab.cloud_user,
                                    "--broker-password-file",
                                    pw.string(),
                                    "--http-port",
                                    "0",
                                    "--tls-cert",
                                    (lab.dir / "pki" / "server.pem").string(),
                                    "--tls-key",
                                    (lab.dir / "pki" / "server.key").string()};
    // A share group of this test process: consoles of tests running in parallel on the same
    // broker must not take each other's device messages.
    if (std::find(extra.begin(), extra.end(), "--share-group") == extra.end()) {
        cmd.push_back("--share-group");
        cmd.push_back("it" + std::to_string(::getpid()));
    }
    cmd.insert(cmd.end(), extra.begin(), extra.end());
    return cmd;
}

ConsoleProcess::ConsoleProcess(const ota::test::Lab& lab, const fs::path& data_dir,
                               const std::string& name, std::vector<std::string> extra, bool wait)
    : lab_(lab), name_(name), ready_file_(data_dir.parent_path() / (name + ".ready.json")) {
    std::error_code ec;
    fs::remove(ready_file_, ec);
    extra.push_back("--ready-file");
    extra.push_back(ready_file_.string());
    proc_ = std::make_unique<ota::test::BackgroundProcess>(
        console_cmd(lab, data_dir, std::move(extra)), data_dir.parent_path() / (name + ".log"));
    if (wait && !wait_ready(std::chrono::seconds(30))) {
        ADD_FAILURE() << "ota_console " << name << " did not become ready:\n" << proc_->output();
    }
}

bool ConsoleProcess::wait_ready(std::chrono::milliseconds timeout) {
    if (ready_) return true;
    if (!wait_until([&] { return fs::exists(ready_file_) || proc_->wait(0) != -1; }, timeout) ||
        !fs::exists(ready_file_)) {
        return false;
    }
    const json r = json::parse(slurp(ready_file_), nullptr, false);
    if (r.is_discarded() || !r.contains("port") || !r.contains("token_file")) {
        ADD_FAILURE() << "bad ready file: " << slurp(ready_file_);
        return false;
    }
    port_ = r["port"].get<int>();
    token_ = slurp(r["token_file"].get<std::string>());
    while (!token_.empty() && (token_.back() == '\n' || token_.back() == ' ')) token_.pop_back();
    EXPECT_EQ(r.value("url", ""), "https://127.0.0.1:" + std::to_string(port_));
    ready_ = true;
    return true;
}

ConsoleProcess::~ConsoleProcess() = default;  // BackgroundProcess kills it

ApiReply ConsoleProcess::call(const std::string& method, const std::string& path,
                              const std::string& body, const std::string& content_type) const {
    httplib::SSLClient cli("127.0.0.1", port_);
    cli.set_ca_cert_path(lab_.ca_file.c_str());
    cli.enable_server_certificate_verification(true);
    cli.set_connection_timeout(5, 0);
    cli.set_read_timeout(15, 0);
    cli.set_write_timeout(15, 0);
    const std::string full = "/api/v1" + path;
    httplib::Headers headers = {{"Authorization", "Bearer " + token_}};
    httplib::Result res{nullptr, httplib::Error::Unknown};
    if (method == "GET") {
        res = cli.Get(full, headers);
    } else {
        res = cli.Post(full, headers, body, content_type);
    }
    ApiReply reply;
    if (!res) return reply;
    reply.status = res->status;
    reply.body = res->body;
    reply.json = json::parse(res->body, nullptr, false);
    return reply;
}

double ConsoleProcess::metric(const std::string& name) const {
    const ApiReply r = get("/metrics");
    std::istringstream in(r.body);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
    }
    return 0;
}

std::vector<ota::test::Device> make_product_devices(const std::string& tag, int n,
                                                    const ota::test::Lab& lab) {
    static std::atomic<int> counter{0};
    const std::string pk = "pc" + std::to_string(::getpid()) + "x" + std::to_string(counter++);
    std::vector<ota::test::Device> out;
    for (int i = 0; i < n; ++i) {
        ota::test::Device d{pk, tag + "-" + std::to_string(i),
                            "secret-" + pk + "-" + std::to_string(i)};
        lab.add_device(d.pk, d.dn, d.ds);
        out.push_back(d);
    }
    return out;
}

void register_devices(const ConsoleProcess& console,
                      const std::vector<ota::test::Device>& devices) {
    json list = json::array();
    for (const auto& d : devices) list.push_back({{"product_key", d.pk}, {"device_name", d.dn}});
    const ApiReply r = console.post("/devices", json{{"devices", list}});
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.status << " " << r.body;
}

std::string reported_version(const ConsoleProcess& console, const ota::test::Device& d) {
    const ApiReply r = console.get("/devices/" + d.pk + "/" + d.dn);
    if (r.status != 200 || !r.json.is_object()) return {};
    const json versions = r.json["device"].value("versions", json::object());
    return versions.value("default", "");
}

json upload_firmware(const ConsoleProcess& console, const std::string& pk,
                     const std::string& version, const std::vector<std::uint8_t>& image) {
    const ApiReply r =
        console.call("POST", "/firmware?product_key=" + pk + "&version=" + version,
                     std::string(image.begin(), image.end()), "application/octet-stream");
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json;
}

json rollout_view(const ConsoleProcess& console, std::int64_t id) {
    return console.get("/rollouts/" + std::to_string(id)).json;
}

std::int64_t count_in(const json& view, const std::string& state) {
    if (!view.is_object() || !view.contains("counts")) return -1;
    return view["counts"]["by_state"].value(state, std::int64_t{0});
}

}  // namespace console::test
