// libFuzzer target: the decoders of upgrade pushes and firmware/get replies (src/protocol).
//
// The input is decoded as both message kinds. Checked on every input:
// - exactly one of job/error for a push; at most one for a get_reply;
// - an error message never contains '?', so it cannot echo a signed URL's query string;
// - a decoded job respects the documented limits (version, module, URL, files, digests, size)
//   and has one source: a url, files, or (MQTT) a stream and no url;
// - a decoded job survives encode_upgrade_push -> decode_upgrade_push with its fields intact
//   (unless the re-encoded push exceeds kMaxPayloadLength, which must then be the error).
// Any violation aborts, which libFuzzer reports as a crash with the input saved.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ota/digest.hpp"
#include "ota/protocol.hpp"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

bool has_control(std::string_view s) {
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F) return true;
    }
    return false;
}

void check_job(const ota::UpgradeJob& job) {
    check(!job.version.empty() && job.version.size() <= ota::kMaxVersionLength);
    check(!has_control(job.version));
    check(job.module.size() <= ota::kMaxModuleLength && !has_control(job.module));
    check(job.files.size() <= ota::kMaxFilesPerJob);
    if (job.protocol == ota::DownloadProtocol::mqtt) {
        check(job.files.empty() && job.url.empty());  // one source: the stream
        check(ota::is_hex_digest(job.digest.hex, job.digest.algorithm));
    } else if (job.files.empty()) {
        check(job.stream_id == 0 && job.stream_file_id == 0);
        check(!job.url.empty() && job.url.size() <= ota::kMaxUrlLength);
        check(ota::is_hex_digest(job.digest.hex, job.digest.algorithm));
    } else {
        check(job.url.empty());
        std::uint64_t total = 0;
        for (const ota::JobFile& f : job.files) {
            check(!f.name.empty() && !f.url.empty() && f.url.size() <= ota::kMaxUrlLength);
            check(f.name.find_first_of("/\\") == std::string::npos && !has_control(f.name));
            check(f.name != "." && f.name != "..");
            check(ota::is_hex_digest(f.digest.hex, job.digest.algorithm));
            check(f.digest.algorithm == job.digest.algorithm);
            total += f.size;  // the decoder refuses sums that overflow
            check(total >= f.size);
        }
        check(total == job.size);
    }
}

bool same_file(const ota::JobFile& a, const ota::JobFile& b) {
    return a.name == b.name && a.size == b.size && a.url == b.url &&
           a.digest.algorithm == b.digest.algorithm && a.digest.hex == b.digest.hex;
}

bool same_job(const ota::UpgradeJob& a, const ota::UpgradeJob& b) {
    if (a.files.size() != b.files.size()) return false;
    for (std::size_t i = 0; i < a.files.size(); ++i) {
        if (!same_file(a.files[i], b.files[i])) return false;
    }
    return a.version == b.version && a.size == b.size && a.url == b.url &&
           a.digest.algorithm == b.digest.algorithm && a.digest.hex == b.digest.hex &&
           a.module == b.module && a.ext_data_json == b.ext_data_json && a.is_diff == b.is_diff &&
           a.protocol == b.protocol && a.stream_id == b.stream_id &&
           a.stream_file_id == b.stream_file_id;
}

void check_round_trip(const ota::UpgradeJob& job) {
    const std::string encoded = ota::encode_upgrade_push(job, 1);
    const ota::DecodeResult again = ota::decode_upgrade_push(encoded);
    if (encoded.size() > ota::kMaxPayloadLength) {
        check(again.error.has_value() && again.error->code == ota::DecodeErrc::too_large);
        return;
    }
    check(again.job.has_value() && !again.error.has_value());
    check(same_job(job, *again.job));
    check(again.job->message_id == "1");
}

void check_result(const ota::DecodeResult& r, bool push) {
    check(!(r.job && r.error));
    if (push) check(r.job || r.error);
    if (r.error) {
        check(!r.error->message.empty());
        check(r.error->message.find('?') == std::string::npos);
    }
    if (r.job) {
        check_job(*r.job);
        check_round_trip(*r.job);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view payload(reinterpret_cast<const char*>(data), size);
    check_result(ota::decode_upgrade_push(payload), true);
    check_result(ota::decode_get_reply(payload), false);
    return 0;
}
