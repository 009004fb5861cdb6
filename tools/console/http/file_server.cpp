// The files server: signed firmware downloads (`/files/<sha256>?fw=&exp=&sig=`, Range -> 206) on
// a port and a thread pool of their own.
//
// Why a server apart from the API: a device downloading a large image over a slow link holds a
// thread for minutes; on the API's pool a few hundred such downloads would leave no thread to
// answer the page or the REST calls. Here they only wait for each other.
#include <sys/stat.h>

#include <cstdio>
#include <memory>

#include "http/api_impl.hpp"
#include "http/request.hpp"

namespace console {

namespace {

/// The one byte range of a Range header against a file of `size` bytes: not present = serve
/// it all (no header, or several ranges, which a server may ignore); {start, end} inclusive; or
/// unsatisfiable when `ok` is false.
struct ByteRange {
    bool present = false;
    bool ok = true;
    std::uint64_t start = 0;
    std::uint64_t end = 0;
};

ByteRange parse_range(const std::string& header, std::uint64_t size) {
    using http::all_digits;
    ByteRange r;
    if (header.empty()) return r;
    if (header.rfind("bytes=", 0) != 0) {
        r.present = true;
        r.ok = false;
        return r;
    }
    const std::string spec = header.substr(6);
    if (spec.find(',') != std::string::npos) return r;
    r.present = true;
    const auto dash = spec.find('-');
    const std::string a = dash == std::string::npos ? spec : spec.substr(0, dash);
    const std::string b = dash == std::string::npos ? "" : spec.substr(dash + 1);
    if (dash == std::string::npos || (a.empty() && !all_digits(b)) ||
        (!a.empty() && !all_digits(a)) || (!b.empty() && !all_digits(b))) {
        r.ok = false;
        return r;
    }
    if (a.empty()) {  // suffix: the last b bytes
        const auto n = std::stoull(b);
        if (n == 0 || size == 0) {
            r.ok = false;
            return r;
        }
        r.start = n >= size ? 0 : size - n;
        r.end = size - 1;
        return r;
    }
    r.start = std::stoull(a);
    r.end = b.empty() ? size - 1 : std::min<std::uint64_t>(std::stoull(b), size - 1);
    r.ok = r.start < size && (b.empty() || std::stoull(b) >= r.start);
    return r;
}

}  // namespace

void ApiServer::Impl::make_files_server() {
    if (options.tls) {
        files_server = std::make_unique<httplib::SSLServer>(cert_file.c_str(), key_file.c_str());
        if (!files_server->is_valid()) {
            throw std::runtime_error("cannot use the TLS certificate " + cert_file +
                                     " for the files server");
        }
    } else {
        files_server = std::make_unique<httplib::Server>();
    }
    configure(*files_server, options.files_threads);
    files_server->Get(R"(/files/([0-9a-f]{64}))",
                      [this](const httplib::Request& req, httplib::Response& res) {
                          guard(req, res, [&] { serve_file(req, res); });
                      });
    const auto other = [](const httplib::Request& req, httplib::Response& res) {
        http::send_error(res, 404, "not_found",
                         "the files server only serves /files/<sha256> (signed URLs): " +
                             req.method + " " + req.path);
    };
    files_server->Get("/.*", other);
    files_server->Post("/.*", other);
    files_server->Put("/.*", other);
    files_server->Patch("/.*", other);
    files_server->Delete("/.*", other);
}

void ApiServer::Impl::serve_file(const httplib::Request& req, httplib::Response& res) {
    using http::all_digits;
    // The range is handled here, whole: cpp-httplib would otherwise also cut error bodies.
    const std::string range_header = req.get_header_value("Range");
    const_cast<httplib::Request&>(req).ranges.clear();
    http::allow_params(req, {"fw", "exp", "sig"});
    const std::string sha256 = req.matches[1];
    const std::string exp = http::param(req, "exp");
    if (!req.has_param("fw") || !all_digits(exp) || http::param(req, "sig").empty()) {
        throw ApiError(403, "forbidden", "the URL is not signed (fw, exp and sig are required)");
    }
    const std::int64_t fw = http::parse_id(http::param(req, "fw"), "fw");
    switch (signer->check(sha256, fw, std::stoll(exp), http::param(req, "sig"))) {
        case UrlSigner::Check::bad_signature:
            throw ApiError(403, "forbidden", "the URL's signature is not valid");
        case UrlSigner::Check::expired:
            throw ApiError(403, "forbidden", "the URL has expired; ask for a new push");
        case UrlSigner::Check::ok:
            break;
    }
    std::FILE* raw = std::fopen(files->path_of(sha256).c_str(), "rb");
    if (raw == nullptr) throw ApiError(404, "not_found", "no such file");
    const std::shared_ptr<std::FILE> file(raw, [](std::FILE* f) { std::fclose(f); });
    struct stat st {};
    if (::fstat(::fileno(raw), &st) != 0 || st.st_size <= 0) {
        throw ApiError(404, "not_found", "no such file");
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    const ByteRange range = parse_range(range_header, size);
    res.set_header("Accept-Ranges", "bytes");
    if (!range.ok) {
        res.set_header("Content-Range", "bytes */" + std::to_string(size));
        http::send_error(res, 416, "range_not_satisfiable",
                         "the range is outside the file's " + std::to_string(size) + " bytes");
        return;
    }
    std::uint64_t start = 0;
    std::uint64_t length = size;
    res.status = 200;
    if (range.present) {
        start = range.start;
        length = range.end - range.start + 1;
        res.status = 206;
        res.set_header("Content-Range", "bytes " + std::to_string(range.start) + "-" +
                                            std::to_string(range.end) + "/" + std::to_string(size));
    }
    res.set_header("ETag", "\"" + sha256 + "\"");
    res.set_content_provider(
        static_cast<std::size_t>(length), "application/octet-stream",
        [file, start](std::size_t offset, std::size_t want, httplib::DataSink& sink) {
            char buf[64 * 1024];
            if (::fseeko(file.get(), static_cast<off_t>(start + offset), SEEK_SET) != 0) {
                return false;
            }
            const std::size_t n = std::fread(buf, 1, std::min(want, sizeof buf), file.get());
            return n > 0 && sink.write(buf, n);
        });
}

}  // namespace console
