#include "lab.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

namespace ota::test {
namespace {

std::map<std::string, std::string> read_env_file(const std::string& path) {
    std::map<std::string, std::string> vars;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        const auto eq = line.find('=');
        if (eq == std::string::npos || line.empty() || line[0] == '#') continue;
        vars[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return vars;
}

std::uint16_t to_port(const std::string& s) {
    return static_cast<std::uint16_t>(std::strtoul(s.c_str(), nullptr, 10));
}

void run_script(const std::vector<std::string>& args) {
    std::vector<std::string> argv{OTA_LAB_SCRIPT};
    argv.insert(argv.end(), args.begin(), args.end());
    const ProcessResult r = run_process(argv, 60);
    ASSERT_EQ(r.exit_code, 0) << "lab.sh " << args.at(0) << " failed:\n" << r.output;
}

}  // namespace

Lab Lab::from_env_file(const std::filesystem::path& path) {
    Lab l;
    auto vars = read_env_file(path.string());
    if (vars.empty()) return l;
    l.dir = vars["LAB_DIR"];
    l.mqtt_tls_port = to_port(vars["MQTT_TLS_PORT"]);
    l.mqtt_tcp_port = to_port(vars["MQTT_TCP_PORT"]);
    l.https_port = to_port(vars["HTTPS_PORT"]);
    l.http_port = to_port(vars["HTTP_PORT"]);
    l.ca_file = vars["CA_FILE"];
    l.other_ca_file = vars["OTHER_CA_FILE"];
    l.www_dir = vars["WWW_DIR"];
    l.cloud_user = vars["CLOUD_USER"];
    l.cloud_password = vars["CLOUD_PASSWORD"];
    return l;
}

const Lab& Lab::get() {
    static const Lab lab = [] {
        const char* override_env = std::getenv("OTA_LAB_ENV");
        return from_env_file(override_env ? override_env : OTA_LAB_ENV_FILE);
    }();
    if (lab.https_port == 0) {
        ADD_FAILURE() << "no lab: run the tests through ctest (the 'lab' fixture starts it) "
                         "or set OTA_LAB_ENV to a lab.env written by scripts/lab.sh start";
    }
    return lab;
}

void Lab::add_device(const std::string& pk, const std::string& dn, const std::string& ds) const {
    run_script({"add-device", dir.string(), pk, dn, ds});
}

std::string Lab::put_file(const std::string& name, const std::vector<std::uint8_t>& data) const {
    const auto path = www_dir / name;
    std::filesystem::create_directories(path.parent_path());
    const auto tmp = path.string() + ".tmp";
    write_file(tmp, data);
    std::filesystem::rename(tmp, path);
    return https_url(name);
}

MqttOptions Lab::cloud_mqtt(const std::string& client_id) const {
    MqttOptions mo;
    mo.host = "127.0.0.1";
    mo.port = mqtt_tls_port;
    mo.ca_file = ca_file;
    mo.username = cloud_user;
    mo.password = cloud_password;
    mo.client_id = client_id;
    mo.clean_session = true;
    return mo;
}

std::string Lab::https_url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(https_port) + "/" + path;
}

std::string Lab::http_url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(http_port) + "/" + path;
}

void Lab::stop_broker() const {
    run_script({"stop-broker", dir.string()});
}
void Lab::start_broker() const {
    run_script({"start-broker", dir.string()});
}

std::string Lab::bin(const std::string& name) {
    return std::string(OTA_BIN_DIR) + "/" + name;
}

std::vector<std::uint8_t> random_bytes(std::size_t n, std::uint32_t seed) {
    std::mt19937 gen(seed);
    std::vector<std::uint8_t> out(n);
    for (auto& b : out) b = static_cast<std::uint8_t>(gen() & 0xFF);
    return out;
}

ProcessResult run_process(const std::vector<std::string>& argv, int timeout_s) {
    ProcessResult result;
    int fds[2];
    if (argv.empty() || pipe(fds) != 0) return result;
    const pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return result;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    close(fds[1]);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    char buf[4096];
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            result.timed_out = true;
            kill(pid, SIGKILL);
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        const int n = poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 200)));
        if (n > 0) {
            const ssize_t got = read(fds[0], buf, sizeof buf);
            if (got <= 0) break;
            result.output.append(buf, static_cast<std::size_t>(got));
        }
    }
    close(fds[0]);
    // The output may close before the process exits: keep honouring the deadline.
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() >= deadline) {
            result.timed_out = true;
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        usleep(10000);
    }
    if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.exit_code = 128 + WTERMSIG(status);
    }
    return result;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv,
                                     std::filesystem::path log_file)
    : log_file_(std::move(log_file)) {
    const pid_t pid = fork();
    if (pid == 0) {
        const int fd = open(log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    pid_ = pid;
}

BackgroundProcess::~BackgroundProcess() {
    if (pid_ > 0 && !exited_) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        waitpid(pid_, &status, 0);
    }
}

int BackgroundProcess::wait(double timeout_s) {
    if (pid_ <= 0) return -1;
    if (exited_) return exit_code_;
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(static_cast<long long>(timeout_s * 1000));
    for (;;) {
        int status = 0;
        const pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            exited_ = true;
            exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status)
                                           : (WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1);
            return exit_code_;
        }
        if (std::chrono::steady_clock::now() >= deadline) return -1;
        usleep(20000);
    }
}

bool BackgroundProcess::wait_for_output(const std::string& text, double timeout_s) const {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(static_cast<long long>(timeout_s * 1000));
    while (std::chrono::steady_clock::now() < deadline) {
        if (output().find(text) != std::string::npos) return true;
        usleep(50000);
    }
    return output().find(text) != std::string::npos;
}

std::string BackgroundProcess::output() const {
    std::ifstream in(log_file_, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void BackgroundProcess::kill(int sig) {
    if (pid_ > 0 && !exited_) ::kill(pid_, sig);
}

TempDir::TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "ota-it.XXXXXX").string();
    if (mkdtemp(templ.data()) != nullptr) path_ = templ;
}

TempDir::~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

PrivateLab::PrivateLab(const std::string& tag) {
    std::string tmpl = "/tmp/ota-" + tag + "-lab-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
        ADD_FAILURE() << "mkdtemp failed";
        return;
    }
    dir_ = tmpl;
    const auto r = run_process({OTA_LAB_SCRIPT, "start", dir_}, 60);
    if (r.exit_code != 0) {
        ADD_FAILURE() << "lab.sh start failed:\n" << r.output;
        return;
    }
    lab_ = Lab::from_env_file(dir_ + "/lab.env");
    ok_ = lab_.https_port != 0 && lab_.mqtt_tls_port != 0;
}

PrivateLab::~PrivateLab() {
    if (dir_.empty()) return;
    run_process({OTA_LAB_SCRIPT, "stop", dir_}, 60);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

Device make_device(const std::string& tag, const Lab& lab) {
    static std::atomic<int> counter{0};
    const std::string n = std::to_string(getpid()) + "x" + std::to_string(counter++);
    Device d{"pk" + n, tag + "-" + n, "secret-" + n};
    lab.add_device(d.pk, d.dn, d.ds);
    return d;
}

std::vector<std::string> ota_mqtt_cmd(const Lab& lab, const Device& d,
                                      const std::filesystem::path& output,
                                      std::vector<std::string> extra, Transport transport) {
    const bool tls = transport == Transport::tls;
    std::vector<std::string> argv{Lab::bin("ota_mqtt"),
                                  "--product-key",
                                  d.pk,
                                  "--device-name",
                                  d.dn,
                                  "--device-secret",
                                  d.ds,
                                  "--version",
                                  "1.0.0",
                                  "--host",
                                  "127.0.0.1",
                                  "--port",
                                  std::to_string(tls ? lab.mqtt_tls_port : lab.mqtt_tcp_port)};
    if (tls) {
        argv.insert(argv.end(), {"--ca-file", lab.ca_file});
    } else {
        argv.emplace_back("--no-tls");
    }
    argv.insert(argv.end(), {"--http-ca-file", lab.ca_file, "--output", output.string()});
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

std::vector<std::string> cloud_broker_args(const Lab& lab) {
    return {"--host",     "127.0.0.1",       "--port", std::to_string(lab.mqtt_tls_port),
            "--ca-file",  lab.ca_file,       "--user", lab.cloud_user,
            "--password", lab.cloud_password};
}

std::vector<std::string> cloud_push_cmd(const Lab& lab, const Device& d,
                                        const std::filesystem::path& file, const std::string& url,
                                        std::vector<std::string> extra,
                                        const std::string& version) {
    std::vector<std::string> argv{
        Lab::bin("ota_cloud"), "push",  "--file",        file.string(), "--url",         url,
        "--version",           version, "--product-key", d.pk,          "--device-name", d.dn};
    const auto broker = cloud_broker_args(lab);
    argv.insert(argv.end(), broker.begin(), broker.end());
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

int max_progress(const std::string& output) {
    static const std::regex re(R"(progress (\d+)%)");
    int best = -1;
    for (auto it = std::sregex_iterator(output.begin(), output.end(), re);
         it != std::sregex_iterator(); ++it) {
        best = std::max(best, std::stoi((*it)[1].str()));
    }
    return best;
}

bool wait_for_progress(const BackgroundProcess& device, int percent,
                       std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (max_progress(device.output()) >= percent) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

std::vector<AccessLine> access_lines(const std::string& path) {
    std::ifstream in(Lab::get().dir / "nginx-access.log");
    std::vector<AccessLine> out;
    std::string line;
    const std::string needle = "\"GET " + path + " HTTP/1.1\" ";
    while (std::getline(in, line)) {
        const auto at = line.find(needle);
        if (at == std::string::npos) continue;
        std::istringstream rest(line.substr(at + needle.size()));
        AccessLine a;
        rest >> a.status >> a.bytes;
        const auto r = line.find("range=\"");
        if (r != std::string::npos) a.range = line.substr(r + 7, line.find('"', r + 7) - (r + 7));
        out.push_back(a);
    }
    return out;
}

void write_file(const std::filesystem::path& path, const std::vector<std::uint8_t>& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace ota::test
