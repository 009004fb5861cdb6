// The --help texts of ota_fleet (options.hpp: usage_text).
#include "options.hpp"

namespace ota::fleet {
namespace {

constexpr const char* kOverview =
    "ota_fleet: many simulated OTA devices per process, each a real OtaClient on its own MQTT\n"
    "connection, with seeded failures on purpose.\n"
    "\n"
    "  ota_fleet run ...     run devices (and optionally push them a job); see run --help\n"
    "  ota_fleet users ...   write mosquitto password and ACL files for the devices\n"
    "  ota_fleet merge OUT.json IN.json...   merge the summaries of disjoint ranges\n"
    "  ota_fleet help [run|users|merge]\n";

constexpr const char* kDevices =
    "Devices (global index i = --first .. --first+--count-1):\n"
    "  --product-key PK        1..20 characters\n"
    "  --name-pattern P        device name of index i, one %d or %0Nd (N 1..9), e.g. sim-%05d\n"
    "  --secret S              the device secret of every pattern device (never logged)\n"
    "  --secret-file F         instead of --secret: F's first line (keeps it out of ps)\n"
    "  --devices CSV           instead of a pattern: pk,dn,ds lines (header optional); the row\n"
    "                          number from 0 is the index; --product-key, if given, must match\n"
    "  --first N               first index, 0..2147483647 (default 0)\n"
    "  --count N               devices, 1..1000000 (default 1; with --devices: every row)\n";

constexpr const char* kRun =
    "ota_fleet run: connect the devices, report their version, take jobs, measure.\n"
    "\n"
    "Broker and server:\n"
    "  --host H --port P       MQTT broker (port 1..65535), required\n"
    "  --ca-file PEM           CA of the broker's TLS certificate (required unless --no-tls)\n"
    "  --no-tls                plain MQTT over TCP\n"
    "  --http-ca-file PEM      CA for HTTPS image downloads (default: --ca-file)\n"
    "  --allow-http            accept plain http:// image URLs\n"
    "Devices' behaviour:\n"
    "  --version V0            version the devices start with (default 1.0.0, 1..64 chars)\n"
    "  --connect-rate N        connects started per second, 1..100000 (default 500)\n"
    "  --threads K             worker threads, 1..64 (default 2)\n"
    "  --no-connect-waker      no extra connection (as device --first) that keeps paho's\n"
    "                          receive thread polling while connects are outstanding\n"
    "  --reboot-ms MS          simulated reboot after a valid image, 0..600000 (default 2000)\n"
    "  --mix SPEC              percent of devices per fault, e.g.\n"
    "                          cut=5,stall=5,corrupt=2,storage=2,never-return=1,rollback=1,\n"
    "                          late=5,churn=5 (each 0..100; corrupt+storage+never-return+\n"
    "                          rollback <= 100); timings stall-ms=, late-ms=, churn-ms= (the\n"
    "                          longest; drawn in [half, whole], defaults 4000, 20000, 10000)\n"
    "  --link SPEC             link speeds, percent%:bytes/s with k/m/g, e.g. 10%:64k,30%:1m\n"
    "                          (the rest unlimited)\n"
    "  --seed N                seed of the mix, 0..2^64-1 (default 1); same seed, same fleet\n"
    "  --sink hash|file:DIR|flash   where images go (default hash: hashed, discarded)\n"
    "Run:\n"
    "  --duration S            end the run after S seconds, 0..604800 (default 0: no bound)\n"
    "  --job-timeout S         end the run S s after the last job arrived while devices are\n"
    "                          still busy (each device gets at least S s from its push; they\n"
    "                          end as stopped, exit 3), 1..604800 (default 600)\n"
    "  --json FILE             write the summary (JSON, for ota_fleet merge)\n"
    "  --csv FILE              write one line per device\n"
    "  --quiet                 no live status line\n"
    "In-process cloud (push a job to every device):\n"
    "  --push-url URL --push-file IMAGE --push-version V [--push-rate N (0.1..100000/s, 100)]\n"
    "  [--push-when connected|all-connected] --cloud-user U --cloud-password-file F\n"
    "  (with the cloud: no job on any device 60 s after the connects ended ends the run)\n"
    "Exit status: 0 every device settled, --duration reached or stopped by SIGINT/SIGTERM;\n"
    "1 setup failure or a file not written; 2 usage error; 3 --job-timeout expired with\n"
    "devices busy, or no job arrived; 4 no device connected at all (broker, port, users?)\n";

constexpr const char* kUsers =
    "ota_fleet users: write the broker's users for the devices: a mosquitto password file\n"
    "(PBKDF2-SHA512 lines as mosquitto_passwd 2.x writes them) and an ACL file (the blocks\n"
    "scripts/lab.sh add-device writes); scripts/lab.sh add-devices appends both.\n"
    "  --passwd-out FILE       password file to write (replaced)\n"
    "  --acl-out FILE          ACL file to write (replaced)\n";

constexpr const char* kMerge =
    "ota_fleet merge OUT.json IN.json...: merge the --json summaries of processes that ran\n"
    "disjoint device ranges with the same seed and mix; counts add up, percentiles are\n"
    "recomputed from every device's samples, rates use the processes' common time window.\n";

}  // namespace

std::string usage_text(Command topic) {
    switch (topic) {
        case Command::run:
            return std::string(kRun) + "\n" + kDevices;
        case Command::users:
            return std::string(kUsers) + "\n" + kDevices;
        case Command::merge:
            return kMerge;
        case Command::help:
            break;
    }
    return std::string(kOverview) + "\n" + kRun + "\n" + kDevices + "\n" + kUsers + "\n" + kMerge;
}

}  // namespace ota::fleet
