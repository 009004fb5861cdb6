// Hasher: the one RAII owner of the running digest. Which code computes it:
//   MD5      the built-in implementation (src/digest/md5.hpp: MD5 bounds an MD5 job's download
//            speed, and ours is faster than Mbed TLS's)
//   SHA-256  the CPU's SHA-256 instructions (src/digest/sha256_hw.hpp: x86 SHA-NI, ARMv8 SHA-2)
//            on CPUs that have them, else an Mbed TLS generic message-digest context
//
// The generic mbedtls_md_* API is used instead of mbedtls_sha256_* so the code keeps compiling
// when Mbed TLS moves the per-algorithm headers (4.x). mbedtls_md_setup() allocates the algorithm
// state once; start(), update() and finish() then reuse it, so feeding data never allocates, and
// restarting a job with the same algorithm does not either.
#include <mbedtls/md.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>

#include "md5.hpp"
#include "ota/digest.hpp"
#include "sha256_hw.hpp"

namespace ota {
namespace {

Status status_from_mbedtls(int rc) noexcept {
    if (rc == 0) return Status::ok;
    if (rc == MBEDTLS_ERR_MD_ALLOC_FAILED) return Status::no_memory;
    return Status::crypto_failed;
}

}  // namespace

struct Hasher::Impl {
    // SHA-256 without the instructions; set up (its state allocated) on first use only.
    mbedtls_md_context_t ctx;
    bool ctx_ready = false;
    // Which of the three engines the running digest uses; ctx only for mbedtls.
    enum class Engine { md5, sha_hw, mbedtls } engine = Engine::mbedtls;
    detail::Md5 md5;
    detail::Sha256Hw sha_hw;

    Impl() noexcept { mbedtls_md_init(&ctx); }
    ~Impl() { mbedtls_md_free(&ctx); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
    Impl(Impl&&) = delete;
    Impl& operator=(Impl&&) = delete;
};

Hasher::Hasher() noexcept = default;

Hasher::~Hasher() = default;

Hasher::Hasher(Hasher&& other) noexcept
    : impl_(std::move(other.impl_)), alg_(other.alg_), active_(other.active_) {
    other.active_ = false;
}

Hasher& Hasher::operator=(Hasher&& other) noexcept {
    if (this != &other) {
        impl_ = std::move(other.impl_);
        alg_ = other.alg_;
        active_ = other.active_;
        other.active_ = false;
    }
    return *this;
}

Status Hasher::start(DigestAlgorithm alg) {
    // Whatever happens below, the previous digest is gone.
    active_ = false;
    if (alg != DigestAlgorithm::md5 && alg != DigestAlgorithm::sha256) return Status::crypto_failed;
    if (!impl_) {
        impl_.reset(new (std::nothrow) Impl());
        if (!impl_) return Status::no_memory;
    }
    if (alg == DigestAlgorithm::md5) {
        impl_->engine = Impl::Engine::md5;
        impl_->md5.reset();
    } else if (detail::sha256_hw_available()) {
        impl_->engine = Impl::Engine::sha_hw;
        impl_->sha_hw.reset();
    } else {
        impl_->engine = Impl::Engine::mbedtls;
        if (!impl_->ctx_ready) {
            const mbedtls_md_info_t* info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
            if (info == nullptr) return Status::crypto_failed;
            const Status s = status_from_mbedtls(mbedtls_md_setup(&impl_->ctx, info, 0));
            if (s != Status::ok) return s;
            impl_->ctx_ready = true;
        }
        const Status s = status_from_mbedtls(mbedtls_md_starts(&impl_->ctx));
        if (s != Status::ok) return s;
    }
    alg_ = alg;
    active_ = true;
    return Status::ok;
}

Status Hasher::update(const std::uint8_t* data, std::size_t len) noexcept {
    if (!active_ || !impl_) return Status::invalid_state;
    if (len == 0) return Status::ok;
    if (data == nullptr) return Status::invalid_argument;
    switch (impl_->engine) {
        case Impl::Engine::md5:
            impl_->md5.update(data, len);
            return Status::ok;
        case Impl::Engine::sha_hw:
            impl_->sha_hw.update(data, len);
            return Status::ok;
        case Impl::Engine::mbedtls:
            break;
    }
    const int rc = mbedtls_md_update(&impl_->ctx, data, len);
    if (rc != 0) {
        // The running state is unusable after a failed update; force a fresh start().
        active_ = false;
        return status_from_mbedtls(rc);
    }
    return Status::ok;
}

Status Hasher::finish(std::uint8_t* out, std::size_t out_len) noexcept {
    if (!active_ || !impl_) return Status::invalid_state;
    // Nothing is truncated, and the digest stays running so the caller can retry.
    if (out == nullptr || out_len < digest_size(alg_)) return Status::buffer_too_small;
    switch (impl_->engine) {
        case Impl::Engine::md5:
            impl_->md5.finish(out);
            active_ = false;
            return Status::ok;
        case Impl::Engine::sha_hw:
            impl_->sha_hw.finish(out);
            active_ = false;
            return Status::ok;
        case Impl::Engine::mbedtls:
            break;
    }
    const int rc = mbedtls_md_finish(&impl_->ctx, out);
    active_ = false;
    return status_from_mbedtls(rc);
}

Status Hasher::finish_hex(std::string& out) {
    std::array<std::uint8_t, kMaxDigestSize> raw{};
    const Status s = finish(raw.data(), raw.size());
    if (s != Status::ok) return s;
    out = to_hex(raw.data(), digest_size(alg_));
    return Status::ok;
}

bool Hasher::active() const noexcept {
    return active_;
}

Error digest_hex(DigestAlgorithm alg, const std::uint8_t* data, std::size_t len, std::string& out) {
    if (data == nullptr && len != 0) {
        return Error(Status::invalid_argument, "digest input is null but its length is not zero");
    }
    Hasher hasher;
    Status s = hasher.start(alg);
    if (s != Status::ok) {
        return Error(s, std::string("cannot start ") + to_string(alg) + " digest");
    }
    s = hasher.update(data, len);
    if (s != Status::ok) return Error(s, std::string(to_string(alg)) + " digest update failed");
    s = hasher.finish_hex(out);
    if (s != Status::ok) return Error(s, std::string(to_string(alg)) + " digest finish failed");
    return {};
}

}  // namespace ota
