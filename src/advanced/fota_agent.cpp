#include "ota/fota_agent.hpp"

#include <array>
#include <atomic>
#include <optional>
#include <utility>

#include "ota/log.hpp"

namespace ota {

class FotaAgent::Impl {
  public:
    Impl(MqttChannel& channel, ByteSource& source, ClientOptions options, const Clock& clock)
        : client_(channel, source, with_auto_progress(std::move(options)), clock) {
        // The job handler runs inside the channel's delivery; only remember the event there and
        // run the application's callback after delivery has finished (see poll()).
        client_.set_job_handler([this](const UpgradeJob& job) {
            pending_ = FotaEvent{0, job.version, job.module, job.size};
        });
    }

    static ClientOptions with_auto_progress(ClientOptions o) {
        o.auto_progress = true;
        return o;
    }

    void on_new_firmware(FotaCallback cb) { callback_ = std::move(cb); }

    Error start(std::string_view version) {
        stop_requested_.store(false);
        if (Error e = client_.init(); !e.ok()) return e;
        return client_.report_version(version);
    }

    Error poll(std::chrono::milliseconds timeout) {
        if (stop_requested_.load()) return finish_stop();
        Error e = client_.poll(timeout);
        dispatch_pending();
        return e;
    }

    Error download(FirmwareSink& sink, const DownloadProgress& progress) {
        if (stop_requested_.load()) return finish_stop();
        if (!client_.is_fetching()) {
            return {Status::invalid_state, "no pending firmware job to download"};
        }
        if (Error e = client_.set_sink(&sink); !e.ok()) return e;
        Error result = run_download(progress);
        // The sink is the caller's: never keep a pointer to it after returning.
        if (client_.state() != OtaState::fetching) (void)client_.set_sink(nullptr);
        dispatch_pending();
        return result;
    }

    OtaClient& client() noexcept { return client_; }

    void stop() noexcept { stop_requested_.store(true); }
    bool stopped() const noexcept { return stop_requested_.load(); }

  private:
    Error run_download(const DownloadProgress& progress) {
        // The client writes into the sink itself; this buffer only receives the copy that
        // fetch_yield hands back, so its size just sets the chunk size.
        std::array<std::uint8_t, 16 * 1024> buf{};
        while (!client_.is_fetch_finished()) {
            if (stop_requested_.load()) return finish_stop();
            if (!client_.is_fetching()) {
                // Not fetching and not finished: the job was replaced or dropped under us.
                const Error& last = client_.last_error();
                return last.ok() ? Error{Status::internal, "download stopped"} : last;
            }
            // Short waits: a stop() is noticed between two of them.
            const FetchResult r =
                client_.fetch_yield(buf.data(), buf.size(), std::chrono::milliseconds(200));
            if (r.status != Status::ok) return client_.last_error();
            if (progress && r.bytes > 0) progress(client_.fetched_size(), client_.file_size());
        }
        bool valid = false;
        if (Error e = client_.check_firmware(valid); !e.ok()) return e;
        if (!valid) return {Status::digest_mismatch, client_.last_error().detail};
        return {};
    }

    // The client's deinit() is the stop itself: it suspends the sink and reports nothing.
    Error finish_stop() {
        client_.deinit();
        return {Status::invalid_state, "stopped"};
    }

    void dispatch_pending() {
        // Run callbacks until no new event appears (a callback may download and so deliver more
        // channel events, e.g. a push that arrives meanwhile).
        for (int guard = 0; pending_ && guard < 8; ++guard) {
            FotaEvent ev = std::move(*pending_);
            pending_.reset();
            if (!callback_) continue;
            try {
                callback_(ev);
            } catch (const std::exception& ex) {
                log(LogLevel::error, std::string("FOTA callback threw: ") + ex.what());
            } catch (...) {
                log(LogLevel::error, "FOTA callback threw an unknown exception");
            }
        }
    }

    OtaClient client_;
    std::atomic<bool> stop_requested_{false};
    FotaCallback callback_;
    std::optional<FotaEvent> pending_;
};

FotaAgent::FotaAgent(MqttChannel& channel, ByteSource& source, ClientOptions options,
                     const Clock& clock)
    : impl_(std::make_unique<Impl>(channel, source, std::move(options), clock)) {}

FotaAgent::~FotaAgent() = default;

void FotaAgent::on_new_firmware(FotaCallback callback) {
    impl_->on_new_firmware(std::move(callback));
}

Error FotaAgent::start(std::string_view running_version) {
    try {
        return impl_->start(running_version);
    } catch (const std::bad_alloc&) {
        return {Status::no_memory, "out of memory"};
    }
}

Error FotaAgent::poll(std::chrono::milliseconds timeout) {
    try {
        return impl_->poll(timeout);
    } catch (const std::bad_alloc&) {
        return {Status::no_memory, "out of memory"};
    }
}

Error FotaAgent::request_image() {
    return impl_->client().request_image();
}

Error FotaAgent::download(FirmwareSink& sink, const DownloadProgress& progress) {
    try {
        return impl_->download(sink, progress);
    } catch (const std::bad_alloc&) {
        return {Status::no_memory, "out of memory"};
    }
}

void FotaAgent::stop() noexcept {
    impl_->stop();
}

bool FotaAgent::stopped() const noexcept {
    return impl_->stopped();
}

Error FotaAgent::report_version(std::string_view version) {
    return impl_->client().report_version(version);
}

OtaClient& FotaAgent::client() noexcept {
    return impl_->client();
}

}  // namespace ota
