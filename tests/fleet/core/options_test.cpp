// The command line of ota_fleet: every option, the defaults, and errors naming option and range.
#include "core/options.hpp"

#include <gtest/gtest.h>

namespace ota::fleet {
namespace {

std::vector<std::string> run_args(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "run",    "--product-key", "a1PK",   "--name-pattern", "sim-%05d",  "--secret", "S3cret",
        "--host", "127.0.0.1",     "--port", "8883",           "--ca-file", "ca.pem"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

std::string error_of(const std::vector<std::string>& args) {
    ParsedCommand parsed;
    Error e = parse_command_line(args, parsed);
    EXPECT_EQ(e.status, Status::invalid_argument);
    return e.detail;
}

TEST(FleetOptions, RunDefaults) {
    ParsedCommand p;
    ASSERT_TRUE(parse_command_line(run_args(), p).ok());
    ASSERT_EQ(p.command, Command::run);
    const RunOptions& r = p.run;
    EXPECT_EQ(r.identity.product_key, "a1PK");
    EXPECT_EQ(r.identity.name_pattern, "sim-%05d");
    EXPECT_EQ(r.identity.secret, "S3cret");
    EXPECT_EQ(r.first, 0u);
    EXPECT_EQ(r.count, 1u);
    EXPECT_EQ(r.host, "127.0.0.1");
    EXPECT_EQ(r.port, 8883);
    EXPECT_TRUE(r.tls);
    EXPECT_EQ(r.ca_file, "ca.pem");
    EXPECT_EQ(r.http_ca_file, "ca.pem");
    EXPECT_FALSE(r.allow_http);
    EXPECT_EQ(r.version, "1.0.0");
    EXPECT_EQ(r.connect_rate, 500);
    EXPECT_EQ(r.threads, 2u);
    EXPECT_EQ(r.reboot_ms, 2000u);
    EXPECT_EQ(r.seed, 1u);
    EXPECT_EQ(r.sink, SinkKind::hash);
    ParsedCommand explicit_hash;
    ASSERT_TRUE(parse_command_line(run_args({"--sink", "hash"}), explicit_hash).ok());
    EXPECT_EQ(explicit_hash.run.sink, SinkKind::hash);
    EXPECT_EQ(r.duration_s, 0);
    EXPECT_EQ(r.job_timeout_s, 600);
    EXPECT_FALSE(r.quiet);
    EXPECT_TRUE(r.connect_waker);
    EXPECT_FALSE(r.has_push);
    EXPECT_EQ(r.mix.cut, 0);
    EXPECT_TRUE(r.mix.link.empty());
}

TEST(FleetOptions, RunEverything) {
    ParsedCommand p;
    ASSERT_TRUE(parse_command_line(run_args({"--first",
                                             "1000",
                                             "--count=2000",
                                             "--http-ca-file",
                                             "web.pem",
                                             "--allow-http",
                                             "--version",
                                             "0.9",
                                             "--connect-rate",
                                             "250.5",
                                             "--threads",
                                             "4",
                                             "--reboot-ms",
                                             "0",
                                             "--mix",
                                             "cut=5,corrupt=2",
                                             "--link",
                                             "10%:64k",
                                             "--seed",
                                             "18446744073709551615",
                                             "--sink",
                                             "file:/tmp/imgs",
                                             "--duration",
                                             "120",
                                             "--job-timeout",
                                             "60.5",
                                             "--json",
                                             "out.json",
                                             "--csv",
                                             "out.csv",
                                             "--quiet",
                                             "--push-url",
                                             "https://127.0.0.1/fw.bin",
                                             "--push-file",
                                             "fw.bin",
                                             "--push-version",
                                             "2.0",
                                             "--push-rate",
                                             "50",
                                             "--push-when",
                                             "all-connected",
                                             "--cloud-user",
                                             "ota-cloud",
                                             "--cloud-password-file",
                                             "pw.txt"}),
                                   p)
                    .ok());
    const RunOptions& r = p.run;
    EXPECT_EQ(r.first, 1000u);
    EXPECT_EQ(r.count, 2000u);
    EXPECT_EQ(r.http_ca_file, "web.pem");
    EXPECT_TRUE(r.allow_http);
    EXPECT_EQ(r.version, "0.9");
    EXPECT_EQ(r.connect_rate, 250.5);
    EXPECT_EQ(r.threads, 4u);
    EXPECT_EQ(r.reboot_ms, 0u);
    EXPECT_EQ(r.mix.cut, 5);
    EXPECT_EQ(r.mix.corrupt, 2);
    EXPECT_EQ(r.mix_text, "cut=5,corrupt=2");
    ASSERT_EQ(r.mix.link.size(), 1u);
    EXPECT_EQ(r.mix.link[0].bytes_per_s, 65536u);
    EXPECT_EQ(r.link_text, "10%:64k");
    EXPECT_EQ(r.seed, 18446744073709551615ULL);
    EXPECT_EQ(r.sink, SinkKind::file);
    EXPECT_EQ(r.sink_dir, "/tmp/imgs");
    EXPECT_EQ(r.duration_s, 120);
    EXPECT_EQ(r.job_timeout_s, 60.5);
    EXPECT_EQ(r.json_path, "out.json");
    EXPECT_EQ(r.csv_path, "out.csv");
    EXPECT_TRUE(r.quiet);
    ASSERT_TRUE(r.has_push);
    EXPECT_EQ(r.push.url, "https://127.0.0.1/fw.bin");
    EXPECT_EQ(r.push.file, "fw.bin");
    EXPECT_EQ(r.push.version, "2.0");
    EXPECT_EQ(r.push.rate_per_s, 50);
    EXPECT_EQ(r.push.when, PushWhen::all_connected);
    EXPECT_EQ(r.push.cloud_user, "ota-cloud");
    EXPECT_EQ(r.push.cloud_password_file, "pw.txt");
}

TEST(FleetOptions, NoConnectWaker) {
    ParsedCommand p;
    ASSERT_TRUE(parse_command_line(run_args({"--no-connect-waker"}), p).ok());
    EXPECT_FALSE(p.run.connect_waker);
    EXPECT_EQ(error_of(run_args({"--no-connect-waker=1"})), "--no-connect-waker takes no value");
    EXPECT_NE(usage_text(Command::run).find("--no-connect-waker"), std::string::npos);
}

TEST(FleetOptions, RunNoTlsAndCsvDevices) {
    ParsedCommand p;
    ASSERT_TRUE(parse_command_line({"run", "--devices", "d.csv", "--host", "h", "--port", "1883",
                                    "--no-tls", "--sink", "flash"},
                                   p)
                    .ok());
    EXPECT_FALSE(p.run.tls);
    EXPECT_EQ(p.run.identity.devices_csv, "d.csv");
    EXPECT_EQ(p.run.count, 0u);  // every row
    EXPECT_EQ(p.run.sink, SinkKind::flash);
    EXPECT_EQ(p.run.http_ca_file, "");
}

TEST(FleetOptions, RangeErrorsNameOptionAndRange) {
    EXPECT_EQ(error_of(run_args({"--threads", "0"})), "--threads: 0 is out of range 1..64");
    EXPECT_EQ(error_of(run_args({"--threads", "65"})), "--threads: 65 is out of range 1..64");
    EXPECT_EQ(error_of(run_args({"--threads", "two"})),
              "--threads: 'two' is not a whole number (1..64)");
    EXPECT_EQ(error_of(run_args({"--threads", "-1"})),
              "--threads: '-1' is not a whole number (1..64)");
    EXPECT_EQ(error_of(run_args({"--count", "0"})), "--count: 0 is out of range 1..1000000");
    EXPECT_EQ(error_of(run_args({"--count", "1000001"})),
              "--count: 1000001 is out of range 1..1000000");
    EXPECT_EQ(error_of(run_args({"--first", "2147483648"})),
              "--first: 2147483648 is out of range 0..2147483647");
    EXPECT_EQ(error_of(run_args({"--first", "2147483647", "--count", "2"})),
              "--first + --count: the last device index 2147483648 is past 2147483647");
    EXPECT_EQ(error_of(run_args({"--reboot-ms", "600001"})),
              "--reboot-ms: 600001 is out of range 0..600000");
    EXPECT_EQ(error_of(run_args({"--connect-rate", "0.5"})),
              "--connect-rate: 0.5 is out of range 1..100000 per second");
    EXPECT_EQ(error_of(run_args({"--connect-rate", "fast"})),
              "--connect-rate: 'fast' is not a number (1..100000 per second)");
    EXPECT_EQ(error_of(run_args({"--duration", "-1"})),
              "--duration: -1 is out of range 0..604800 s (0 = no bound)");
    EXPECT_EQ(error_of(run_args({"--job-timeout", "0"})),
              "--job-timeout: 0 is out of range 1..604800 s");
    EXPECT_EQ(error_of(run_args({"--seed", "18446744073709551616"})),
              "--seed: '18446744073709551616' is not a whole number (0..18446744073709551615)");
    EXPECT_EQ(error_of(run_args({"--version", std::string(65, 'v')})),
              "--version: 65 characters, more than 64");
    EXPECT_EQ(error_of(run_args({"--sink", "disk"})),
              "--sink: 'disk' is not hash, file:DIR or flash");
    EXPECT_EQ(error_of(run_args({"--sink", "file:"})),
              "--sink: 'file:' is not hash, file:DIR or flash");
    EXPECT_EQ(error_of(run_args({"--mix", "cut=200"})),
              "--mix: cut=200 is not a percent in range 0..100");
    EXPECT_EQ(error_of(run_args({"--link", "10%:0"})),
              "--link: rate '0' is not bytes/s >= 1 with an optional k/m/g suffix");
}

TEST(FleetOptions, PortAndRequiredOptions) {
    const auto without = [](const std::string& option, bool with_value = true) {
        std::vector<std::string> args = run_args();
        for (std::size_t i = 0; i < args.size(); ++i) {
            if (args[i] == option) {
                args.erase(args.begin() + static_cast<std::ptrdiff_t>(i),
                           args.begin() + static_cast<std::ptrdiff_t>(i + (with_value ? 2 : 1)));
                break;
            }
        }
        return args;
    };
    EXPECT_EQ(error_of(without("--host")), "--host is required");
    EXPECT_EQ(error_of(without("--port")), "--port is required");
    EXPECT_EQ(error_of(without("--ca-file")),
              "--ca-file is required for MQTT over TLS (or give --no-tls)");
    EXPECT_EQ(error_of(without("--secret")),
              "--secret (or --secret-file) is required with --name-pattern");
    EXPECT_EQ(error_of(run_args({"--secret-file", "s.txt"})),
              "--secret and --secret-file exclude each other");
    std::vector<std::string> from_file = without("--secret");
    from_file.insert(from_file.end(), {"--secret-file", "s.txt"});
    ParsedCommand p;
    ASSERT_TRUE(parse_command_line(from_file, p).ok());
    EXPECT_EQ(p.run.identity.secret_file, "s.txt");
    EXPECT_EQ(p.run.identity.secret, "");
    EXPECT_EQ(error_of({"run", "--devices", "d.csv", "--secret-file", "S", "--host", "h", "--port",
                        "1", "--no-tls"}),
              "--secret-file is not used with --devices (the CSV holds each device's secret)");
    EXPECT_EQ(error_of(without("--product-key")), "--product-key is required with --name-pattern");
    EXPECT_EQ(error_of(without("--name-pattern")),
              "the devices are missing: give --name-pattern P --secret S or --devices CSV");
    EXPECT_EQ(error_of(run_args({"--port", "0"})), "--port is given twice");
    std::vector<std::string> args = without("--port");
    args.insert(args.end(), {"--port", "65536"});
    EXPECT_EQ(error_of(args), "--port: 65536 is out of range 1..65535");
    EXPECT_EQ(error_of(run_args({"--devices", "d.csv"})),
              "--name-pattern and --devices exclude each other");
    EXPECT_EQ(error_of({"run", "--devices", "d.csv", "--secret", "S", "--host", "h", "--port", "1",
                        "--no-tls"}),
              "--secret is not used with --devices (the CSV holds each device's secret)");
    EXPECT_EQ(error_of(run_args({"--name-pattern=x"})), "--name-pattern is given twice");
    std::vector<std::string> bad_pattern = without("--name-pattern");
    bad_pattern.insert(bad_pattern.end(), {"--name-pattern", "sim-%s"});
    EXPECT_EQ(error_of(bad_pattern),
              "--name-pattern 'sim-%s': at position 4 only %d, %0Nd (N 1..9) or %% are allowed");
    EXPECT_EQ(error_of(run_args({"--product-key", "x"})), "--product-key is given twice");
}

TEST(FleetOptions, PushOptions) {
    EXPECT_EQ(error_of(run_args({"--push-file", "f"})), "--push-file needs --push-url");
    EXPECT_EQ(error_of(run_args({"--cloud-user", "u"})), "--cloud-user needs --push-url");
    const std::vector<std::string> push = {
        "--push-url",     "https://h/f", "--push-file",  "f",
        "--push-version", "2",           "--cloud-user", "ota-cloud"};
    EXPECT_EQ(error_of(run_args(push)), "--cloud-password-file is required with --push-url");
    std::vector<std::string> full = push;
    full.insert(full.end(), {"--cloud-password-file", "pw"});
    ParsedCommand p;
    ASSERT_TRUE(parse_command_line(run_args(full), p).ok());
    EXPECT_EQ(p.run.push.rate_per_s, 100);
    EXPECT_EQ(p.run.push.when, PushWhen::connected);
    std::vector<std::string> a = full;
    a.insert(a.end(), {"--push-rate", "0"});
    EXPECT_EQ(error_of(run_args(a)), "--push-rate: 0 is out of range 0.1..100000 per second");
    std::vector<std::string> b = full;
    b.insert(b.end(), {"--push-when", "soon"});
    EXPECT_EQ(error_of(run_args(b)), "--push-when: 'soon' is not connected or all-connected");
    std::vector<std::string> c = full;
    c.insert(c.end(), {"--version", "2"});
    EXPECT_EQ(error_of(run_args(c)), "--push-version: '2' is the devices' --version already");
}

TEST(FleetOptions, SyntaxErrors) {
    EXPECT_EQ(error_of({}), "missing command: run, users or merge (see ota_fleet --help)");
    EXPECT_EQ(error_of({"fly"}),
              "unknown command 'fly': run, users or merge (see ota_fleet --help)");
    EXPECT_EQ(error_of(run_args({"--bogus", "1"})),
              "unknown option --bogus for 'run' (see ota_fleet run --help)");
    EXPECT_EQ(error_of(run_args({"--threads"})), "--threads needs a value");
    EXPECT_EQ(error_of(run_args({"--quiet=yes"})), "--quiet takes no value");
    EXPECT_EQ(error_of(run_args({"extra"})), "run: unexpected argument 'extra'");
    EXPECT_EQ(error_of(run_args({"--json", ""})), "--json is empty");
    EXPECT_EQ(error_of({"users", "--passwd-out", "p"}),
              "the devices are missing: give --name-pattern P --secret S or --devices CSV");
    EXPECT_EQ(error_of({"help", "fly"}), "help: unknown command 'fly'");
}

TEST(FleetOptions, SecretNeverInErrors) {
    // Every error above names options, never values of --secret.
    for (const auto& extra : std::vector<std::vector<std::string>>{
             {"--threads", "0"}, {"--bogus"}, {"--secret", "again"}, {"x"}}) {
        EXPECT_EQ(error_of(run_args(extra)).find("S3cret"), std::string::npos);
    }
}

TEST(FleetOptions, Users) {
    ParsedCommand p;
    ASSERT_TRUE(parse_command_line(
                    {"users", "--product-key", "a1PK", "--name-pattern", "d%d", "--secret", "s",
                     "--first", "5", "--count", "10", "--passwd-out", "pw", "--acl-out", "acl"},
                    p)
                    .ok());
    ASSERT_EQ(p.command, Command::users);
    EXPECT_EQ(p.users.first, 5u);
    EXPECT_EQ(p.users.count, 10u);
    EXPECT_EQ(p.users.passwd_out, "pw");
    EXPECT_EQ(p.users.acl_out, "acl");
    EXPECT_EQ(error_of({"users", "--devices", "d.csv", "--acl-out", "a"}),
              "--passwd-out is required");
    EXPECT_EQ(error_of({"users", "--devices", "d.csv", "--passwd-out", "p"}),
              "--acl-out is required");
    EXPECT_EQ(
        error_of({"users", "--devices", "d.csv", "--passwd-out", "p", "--acl-out", "a", "more"}),
        "users: unexpected argument 'more'");
    EXPECT_EQ(error_of({"users", "--product-key", std::string(21, 'k'), "--name-pattern", "d%d",
                        "--secret", "s", "--passwd-out", "p", "--acl-out", "a"}),
              "--product-key: 21 characters, more than 20");
    EXPECT_EQ(error_of({"users", "--devices", "d.csv", "--host", "h"}),
              "unknown option --host for 'users' (see ota_fleet users --help)");
}

TEST(FleetOptions, Merge) {
    ParsedCommand p;
    ASSERT_TRUE(parse_command_line({"merge", "all.json", "a.json", "b.json"}, p).ok());
    ASSERT_EQ(p.command, Command::merge);
    EXPECT_EQ(p.merge.out, "all.json");
    EXPECT_EQ(p.merge.inputs, (std::vector<std::string>{"a.json", "b.json"}));
    EXPECT_EQ(error_of({"merge", "all.json"}), "merge: give OUT.json and at least one IN.json");
    EXPECT_EQ(error_of({"merge", "--out", "x"}),
              "unknown option --out for 'merge' (see ota_fleet merge --help)");
}

TEST(FleetOptions, Help) {
    for (const auto& [args, topic] : std::vector<std::pair<std::vector<std::string>, Command>>{
             {{"--help"}, Command::help},
             {{"-h"}, Command::help},
             {{"help"}, Command::help},
             {{"help", "users"}, Command::users},
             {{"run", "--help"}, Command::run},
             {{"merge", "-h"}, Command::merge},
             {{"users", "--product-key", "x", "--help"}, Command::users}}) {
        ParsedCommand p;
        ASSERT_TRUE(parse_command_line(args, p).ok()) << args.front();
        EXPECT_EQ(p.command, Command::help);
        EXPECT_EQ(p.help_topic, topic) << args.front();
    }
    const std::string all = usage_text(Command::help);
    for (const char* option : {"--product-key", "--name-pattern", "--secret",
                               "--secret-file", "--devices",      "--first",
                               "--count",       "--host",         "--port",
                               "--ca-file",     "--no-tls",       "--http-ca-file",
                               "--allow-http",  "--version",      "--connect-rate",
                               "--threads",     "--reboot-ms",    "--mix",
                               "--link",        "--seed",         "--sink",
                               "--duration",    "--job-timeout",  "--json",
                               "--csv",         "--quiet",        "--push-url",
                               "--push-file",   "--push-version", "--push-rate",
                               "--push-when",   "--cloud-user",   "--cloud-password-file",
                               "--passwd-out",  "--acl-out",      "ota_fleet merge"}) {
        EXPECT_NE(all.find(option), std::string::npos) << option;
    }
    EXPECT_NE(usage_text(Command::run).find("--connect-rate"), std::string::npos);
    EXPECT_EQ(usage_text(Command::users).find("--connect-rate"), std::string::npos);
    EXPECT_NE(usage_text(Command::users).find("--name-pattern"), std::string::npos);
    EXPECT_NE(usage_text(Command::merge).find("disjoint"), std::string::npos);
    EXPECT_STREQ(to_string(Command::run), "run");
    EXPECT_STREQ(to_string(Command::users), "users");
    EXPECT_STREQ(to_string(Command::merge), "merge");
    EXPECT_STREQ(to_string(Command::help), "help");
}

TEST(FleetOptions, ErrorNamesTheSubcommandForItsUsage) {
    ParsedCommand p;
    EXPECT_FALSE(parse_command_line(std::vector<std::string>{"users", "--bogus"}, p).ok());
    EXPECT_EQ(p.help_topic, Command::users);
    EXPECT_EQ(p.command, Command::help);
    ParsedCommand q;
    EXPECT_FALSE(parse_command_line(std::vector<std::string>{"fly"}, q).ok());
    EXPECT_EQ(q.help_topic, Command::help);
}

TEST(FleetOptions, ArgvForm) {
    const char* argv[] = {"ota_fleet", "merge", "o.json", "i.json"};
    ParsedCommand p;
    ASSERT_TRUE(parse_command_line(4, argv, p).ok());
    EXPECT_EQ(p.merge.inputs.size(), 1u);
}

}  // namespace
}  // namespace ota::fleet
