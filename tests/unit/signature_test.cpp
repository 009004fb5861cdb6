// Image signatures: the extData codec, key loading, verification of signatures made by OpenSSL
// (committed fixtures, see tests/data/signing/regen.sh), signatures made here and checked by the
// OpenSSL command line, the policy decisions, and `ota_cloud sign`.
//
// Keys are committed fixtures rather than generated at run time: they come from an independent
// implementation (OpenSSL), which is what proves interoperability, and the suite needs no
// RSA key generation (about a second each) and stays deterministic.
#include "ota/signature.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ota/digest.hpp"
#include "ota/status.hpp"

namespace ota {
namespace {

using Digest = std::array<std::uint8_t, kSignedDigestSize>;
using Bytes = std::vector<std::uint8_t>;

std::string data_path(const std::string& name) {
    return std::string(OTA_TEST_DATA_DIR) + "/" + name;
}

std::string read_text(const std::string& name) {
    std::ifstream in(data_path(name), std::ios::binary);
    EXPECT_TRUE(in) << "missing fixture " << name;
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Bytes read_bytes(const std::string& name) {
    const std::string s = read_text(name);
    return Bytes(s.begin(), s.end());
}

Digest sha256_of(const Bytes& data) {
    Hasher h;
    EXPECT_EQ(h.start(DigestAlgorithm::sha256), Status::ok);
    EXPECT_EQ(h.update(data.data(), data.size()), Status::ok);
    Digest d{};
    EXPECT_EQ(h.finish(d.data(), d.size()), Status::ok);
    return d;
}

const Digest& image_digest() {
    static const Digest d = sha256_of(read_bytes("image.bin"));
    return d;
}

ImageSignature make_sig(std::string_view alg, Bytes bytes, std::string key_id = {}) {
    ImageSignature s;
    s.algorithm = std::string(alg);
    s.signature = std::move(bytes);
    s.key_id = std::move(key_id);
    return s;
}

ImageSignature openssl_ecdsa() {
    return make_sig(kSignatureEcdsaP256Sha256, read_bytes("image.ecdsa.sig"));
}
ImageSignature openssl_pss() {
    return make_sig(kSignatureRsaPssSha256, read_bytes("image.rsa-pss.sig"));
}

std::string ext_data_for(const ImageSignature& sig, std::string_view base = {}) {
    std::string out;
    const Error e = encode_signature_ext_data(sig, base, out);
    EXPECT_TRUE(e.ok()) << e.message();
    return out;
}

SignatureVerifier verifier_with(std::initializer_list<std::pair<const char*, const char*>> keys) {
    SignatureVerifier v;
    for (const auto& [file, id] : keys) {
        const Error e = v.add_public_key(read_text(file), id);
        EXPECT_TRUE(e.ok()) << file << ": " << e.message();
    }
    return v;
}

// ---------------------------------------------------------------------------------------------
// extData parsing

TEST(ParseImageSignature, NoSignatureInTheseExtData) {
    for (const char* text : {"", "{}", R"({"other":{"sig":"AAAA"}})", "[1,2]", R"("text")", "7",
                             "null", R"({"signature":null})"}) {
        const SignatureParseResult r = parse_image_signature(text);
        EXPECT_FALSE(r.signature.has_value()) << text;
        EXPECT_FALSE(r.error.has_value()) << text;
    }
}

TEST(ParseImageSignature, DecodesAValidSignature) {
    const SignatureParseResult r = parse_image_signature(
        R"({"app":1,"signature":{"alg":"rsa-pss-sha256","sig":"AAEC/w==","keyId":"prod-1","x":2}})");
    ASSERT_TRUE(r.signature.has_value());
    EXPECT_FALSE(r.error.has_value());
    EXPECT_EQ(r.signature->algorithm, "rsa-pss-sha256");
    EXPECT_EQ(r.signature->signature, (Bytes{0x00, 0x01, 0x02, 0xff}));
    EXPECT_EQ(r.signature->key_id, "prod-1");

    const SignatureParseResult no_id = parse_image_signature(
        R"({"signature":{"alg":"ecdsa-p256-sha256","sig":"QUJD","keyId":null}})");
    ASSERT_TRUE(no_id.signature.has_value());
    EXPECT_EQ(no_id.signature->key_id, "");
    EXPECT_EQ(no_id.signature->signature, (Bytes{'A', 'B', 'C'}));
}

struct BadExtData {
    const char* name;
    std::string text;
    SignatureParseErrc code;
    const char* field;
};

void PrintTo(const BadExtData& b, std::ostream* os) {
    *os << b.name;
}

class ParseImageSignatureErrors : public ::testing::TestWithParam<BadExtData> {};

TEST_P(ParseImageSignatureErrors, AreTypedAndNameTheField) {
    const BadExtData& b = GetParam();
    const SignatureParseResult r = parse_image_signature(b.text);
    EXPECT_FALSE(r.signature.has_value());
    ASSERT_TRUE(r.error.has_value());
    EXPECT_EQ(r.error->code, b.code);
    EXPECT_EQ(r.error->field, b.field);
    EXPECT_EQ(r.error->message.rfind(b.field, 0), 0u) << r.error->message;
    EXPECT_EQ(r.error->message.find("!!"), std::string::npos) << "echoes the value";
}

const std::string kLongSig(2000, 'A');
// The longest base64 text allowed (1368 characters) without padding decodes to 1026 bytes, two
// more than a signature may have: the decoded length is checked too, not only the text length.
const std::string kSigJustOverTheLimit((kMaxSignatureSize + 2) / 3 * 4, 'A');
// Only the size of the whole extData is judged; its content does not matter.
const std::string kHugeExtData =
    R"({"pad":")" + std::string(65536, 'p') + R"(","signature":{"alg":"rsa-pss-sha256"}})";

INSTANTIATE_TEST_SUITE_P(
    Table, ParseImageSignatureErrors,
    ::testing::Values(
        BadExtData{"not_json", "{\"signature\":", SignatureParseErrc::not_json, "extData"},
        BadExtData{"signature_string", R"({"signature":"!!"})", SignatureParseErrc::wrong_type,
                   "extData.signature"},
        BadExtData{"signature_array", R"({"signature":[1]})", SignatureParseErrc::wrong_type,
                   "extData.signature"},
        BadExtData{"alg_missing", R"({"signature":{"sig":"QUJD"}})",
                   SignatureParseErrc::missing_field, "extData.signature.alg"},
        BadExtData{"alg_number", R"({"signature":{"alg":1,"sig":"QUJD"}})",
                   SignatureParseErrc::wrong_type, "extData.signature.alg"},
        BadExtData{"alg_unknown", R"({"signature":{"alg":"!!md5","sig":"QUJD"}})",
                   SignatureParseErrc::unknown_algorithm, "extData.signature.alg"},
        BadExtData{"alg_wrong_case", R"({"signature":{"alg":"ECDSA-P256-SHA256","sig":"QUJD"}})",
                   SignatureParseErrc::unknown_algorithm, "extData.signature.alg"},
        BadExtData{"sig_missing", R"({"signature":{"alg":"rsa-pss-sha256"}})",
                   SignatureParseErrc::missing_field, "extData.signature.sig"},
        BadExtData{"sig_object", R"({"signature":{"alg":"rsa-pss-sha256","sig":{}}})",
                   SignatureParseErrc::wrong_type, "extData.signature.sig"},
        BadExtData{"sig_empty", R"({"signature":{"alg":"rsa-pss-sha256","sig":""}})",
                   SignatureParseErrc::bad_base64, "extData.signature.sig"},
        BadExtData{"sig_garbage", R"({"signature":{"alg":"rsa-pss-sha256","sig":"!!!!"}})",
                   SignatureParseErrc::bad_base64, "extData.signature.sig"},
        BadExtData{"sig_unpadded", R"({"signature":{"alg":"rsa-pss-sha256","sig":"QUI"}})",
                   SignatureParseErrc::bad_base64, "extData.signature.sig"},
        BadExtData{"sig_whitespace", R"({"signature":{"alg":"rsa-pss-sha256","sig":"QU JD"}})",
                   SignatureParseErrc::bad_base64, "extData.signature.sig"},
        BadExtData{"sig_base64url", R"({"signature":{"alg":"rsa-pss-sha256","sig":"_-_-"}})",
                   SignatureParseErrc::bad_base64, "extData.signature.sig"},
        BadExtData{"sig_bad_padding", R"({"signature":{"alg":"rsa-pss-sha256","sig":"Q==="}})",
                   SignatureParseErrc::bad_base64, "extData.signature.sig"},
        BadExtData{"sig_too_long",
                   R"({"signature":{"alg":"rsa-pss-sha256","sig":")" + kLongSig + "\"}}",
                   SignatureParseErrc::too_long, "extData.signature.sig"},
        BadExtData{"key_id_number",
                   R"({"signature":{"alg":"rsa-pss-sha256","sig":"QUJD","keyId":5}})",
                   SignatureParseErrc::wrong_type, "extData.signature.keyId"},
        BadExtData{"key_id_too_long",
                   R"({"signature":{"alg":"rsa-pss-sha256","sig":"QUJD","keyId":")" +
                       std::string(65, 'k') + "\"}}",
                   SignatureParseErrc::too_long, "extData.signature.keyId"},
        BadExtData{
            "sig_decodes_too_long",
            R"({"signature":{"alg":"rsa-pss-sha256","sig":")" + kSigJustOverTheLimit + "\"}}",
            SignatureParseErrc::too_long, "extData.signature.sig"},
        BadExtData{"ext_data_too_long", kHugeExtData, SignatureParseErrc::too_long, "extData"}));

TEST(ParseImageSignature, SurvivesRandomInput) {
    std::mt19937 rng(1234);
    const std::string prefix = R"({"signature":{"alg":"ecdsa-p256-sha256","sig":")";
    for (int i = 0; i < 2000; ++i) {
        std::string text = (i % 2 == 0) ? prefix : std::string();
        const std::size_t n = rng() % 200;
        for (std::size_t k = 0; k < n; ++k) text.push_back(static_cast<char>(rng() & 0xff));
        const SignatureParseResult r = parse_image_signature(text);
        EXPECT_FALSE(r.signature.has_value() && r.error.has_value());
    }
}

// ---------------------------------------------------------------------------------------------
// extData encoding

TEST(EncodeSignatureExtData, RoundTripsAndKeepsOtherMembers) {
    const ImageSignature sig = make_sig(kSignatureEcdsaP256Sha256, {1, 2, 3, 250}, "k1");
    const std::string text = ext_data_for(sig, R"({"note":"keep me","signature":{"alg":"old"}})");
    const auto j = nlohmann::json::parse(text);
    EXPECT_EQ(j.at("note"), "keep me");
    EXPECT_EQ(j.at("signature").at("alg"), "ecdsa-p256-sha256");
    EXPECT_EQ(j.at("signature").at("sig"), "AQID+g==");
    EXPECT_EQ(j.at("signature").at("keyId"), "k1");
    const SignatureParseResult back = parse_image_signature(text);
    ASSERT_TRUE(back.signature.has_value());
    EXPECT_EQ(back.signature->signature, sig.signature);
    EXPECT_EQ(back.signature->key_id, "k1");

    EXPECT_EQ(ext_data_for(make_sig(kSignatureRsaPssSha256, {0})),
              R"({"signature":{"alg":"rsa-pss-sha256","sig":"AA=="}})");
}

TEST(EncodeSignatureExtData, RefusesBadInput) {
    std::string out = "unchanged";
    const ImageSignature ok = make_sig(kSignatureEcdsaP256Sha256, {1});
    EXPECT_EQ(encode_signature_ext_data(ok, "[1]", out).status, Status::invalid_argument);
    EXPECT_EQ(encode_signature_ext_data(ok, "{", out).status, Status::invalid_argument);
    EXPECT_EQ(encode_signature_ext_data(make_sig("md5", {1}), "", out).status,
              Status::invalid_argument);
    EXPECT_EQ(encode_signature_ext_data(make_sig(kSignatureEcdsaP256Sha256, {}), "", out).status,
              Status::invalid_argument);
    EXPECT_EQ(
        encode_signature_ext_data(make_sig(kSignatureEcdsaP256Sha256, Bytes(1025, 1)), "", out)
            .status,
        Status::invalid_argument);
    EXPECT_EQ(
        encode_signature_ext_data(make_sig(kSignatureEcdsaP256Sha256, {1}, "a\nb"), "", out).status,
        Status::invalid_argument);
    EXPECT_EQ(out, "unchanged");
}

// ---------------------------------------------------------------------------------------------
// Trusted keys

TEST(SignatureVerifierKeys, AcceptsPemAndDerEcAndRsa) {
    SignatureVerifier v;
    EXPECT_EQ(v.key_count(), 0u);
    EXPECT_TRUE(v.add_public_key(read_text("ec_p256_public.pem"), "ec-pem").ok());
    const Bytes der = read_bytes("ec_p256_public.der");
    EXPECT_TRUE(v.add_public_key(der.data(), der.size(), "ec-der").ok());
    EXPECT_TRUE(v.add_public_key(read_text("rsa2048_public.pem")).ok());
    EXPECT_TRUE(v.add_public_key(read_text("rsa2048_public_pkcs1.pem")).ok());
    EXPECT_TRUE(v.add_public_key_file(data_path("ec_p256_other_public.pem"), "other").ok());
    EXPECT_EQ(v.key_count(), 5u);
}

TEST(SignatureVerifierKeys, RefusesUnusableKeysAndLeavesTheVerifierUnchanged) {
    SignatureVerifier v = verifier_with({{"ec_p256_public.pem", "main"}});
    const std::string pem = read_text("ec_p256_public.pem");
    const Bytes der = read_bytes("ec_p256_public.der");
    struct Case {
        const char* name;
        std::string data;
    };
    std::mt19937 rng(99);
    std::string random_bytes(300, '\0');
    for (auto& c : random_bytes) c = static_cast<char>(rng() & 0xff);
    const std::vector<Case> cases = {
        {"empty", ""},
        {"p384", read_text("ec_p384_public.pem")},
        {"rsa1024", read_text("rsa1024_public.pem")},
        {"private_key", read_text("ec_p256_private.pem")},
        {"garbage_text", "not a key at all"},
        {"garbage_bytes", random_bytes},
        {"truncated_der", std::string(der.begin(), der.begin() + 40)},
        {"truncated_pem", pem.substr(0, pem.size() / 2)},
        {"armour_only", "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"},
    };
    for (const Case& c : cases) {
        const Error e = v.add_public_key(c.data, "new");
        EXPECT_EQ(e.status, Status::invalid_argument) << c.name << ": " << e.message();
        EXPECT_FALSE(e.detail.empty()) << c.name;
    }
    EXPECT_EQ(v.add_public_key(pem, "main").status, Status::invalid_argument);  // duplicate id
    EXPECT_EQ(v.add_public_key(pem, std::string(65, 'k')).status, Status::invalid_argument);
    EXPECT_EQ(v.add_public_key(pem, "tab\tid").status, Status::invalid_argument);
    EXPECT_EQ(v.add_public_key(nullptr, 5).status, Status::invalid_argument);
    EXPECT_EQ(v.add_public_key_file(data_path("no-such-key.pem")).status, Status::invalid_argument);
    EXPECT_EQ(v.key_count(), 1u);
}

// A key file in a fresh temporary directory, removed with it.
class KeyFile {
  public:
    explicit KeyFile(const std::string& content) {
        std::string templ = ::testing::TempDir() + "ota_key_XXXXXX";
        EXPECT_NE(::mkdtemp(templ.data()), nullptr);
        dir_ = templ;
        path_ = dir_ + "/key.pem";
        std::ofstream out(path_, std::ios::binary);
        out << content;
        EXPECT_TRUE(out.good());
    }
    ~KeyFile() {
        std::remove(path_.c_str());
        ::rmdir(dir_.c_str());
    }
    KeyFile(const KeyFile&) = delete;
    KeyFile& operator=(const KeyFile&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string dir_;
    std::string path_;
};

TEST(SignatureVerifierKeys, KeyFileErrorsNameTheFileAndLargeFilesAreRefused) {
    SignatureVerifier v;
    const KeyFile garbage("not a key at all");
    Error e = v.add_public_key_file(garbage.path(), "g");
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_EQ(e.detail.rfind(garbage.path() + ": ", 0), 0u) << e.detail;

    // A valid key followed by padding is still refused once the file passes 64 KiB.
    const KeyFile huge(read_text("ec_p256_public.pem") + std::string(64 * 1024, '\n'));
    e = v.add_public_key_file(huge.path(), "h");
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_NE(e.detail.find("larger than 64 KiB"), std::string::npos) << e.detail;
    EXPECT_NE(e.detail.find(huge.path()), std::string::npos) << e.detail;
    EXPECT_EQ(v.key_count(), 0u);
}

TEST(SignatureVerifierKeys, RefusesAnEcKeyMarkedForKeyAgreementOnly) {
    // The committed P-256 key re-labelled with the id-ecDH algorithm (1.3.132.1.12): the same
    // point, but its owner declared it for key agreement, so it must not be trusted to verify.
    const Bytes der = read_bytes("ec_p256_public.der");
    ASSERT_EQ(der.size(), 91u);  // SEQ{SEQ{OID ecPublicKey, OID prime256v1}, BIT STRING}
    const Bytes ec_public_key_oid = {0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01};
    ASSERT_TRUE(std::equal(ec_public_key_oid.begin(), ec_public_key_oid.end(), der.begin() + 4));
    Bytes ecdh = {0x30, 0x57, 0x30, 0x11, 0x06, 0x05, 0x2B, 0x81, 0x04, 0x01, 0x0C};
    ecdh.insert(ecdh.end(), der.begin() + 13, der.end());  // the curve OID and the point
    ASSERT_EQ(ecdh.size(), 89u);

    SignatureVerifier v;
    const Error e = v.add_public_key(ecdh.data(), ecdh.size(), "dh");
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_NE(e.detail.find("unsupported key type"), std::string::npos) << e.detail;
    EXPECT_EQ(v.key_count(), 0u);
    // The unchanged key is accepted, so the refusal is about the label alone.
    EXPECT_TRUE(v.add_public_key(der.data(), der.size(), "ec").ok());
}

TEST(SignatureVerifierKeys, IsMoveOnly) {
    static_assert(!std::is_copy_constructible_v<SignatureVerifier>);
    static_assert(std::is_nothrow_move_constructible_v<SignatureVerifier>);
    SignatureVerifier a = verifier_with({{"ec_p256_public.pem", ""}});
    SignatureVerifier b(std::move(a));
    EXPECT_EQ(b.key_count(), 1u);
    EXPECT_EQ(a.key_count(), 0u);  // NOLINT(bugprone-use-after-move): documented empty state
    EXPECT_EQ(a.verify(openssl_ecdsa(), image_digest().data()).status, Status::digest_mismatch);
    a = std::move(b);
    EXPECT_TRUE(a.verify(openssl_ecdsa(), image_digest().data()).ok());
}

// ---------------------------------------------------------------------------------------------
// Verification of OpenSSL's signatures

TEST(SignatureVerify, AcceptsOpensslEcdsa) {
    for (const char* key : {"ec_p256_public.pem"}) {
        const SignatureVerifier v = verifier_with({{key, ""}});
        const Error e = v.verify(openssl_ecdsa(), image_digest().data());
        EXPECT_TRUE(e.ok()) << e.message();
    }
    SignatureVerifier der;
    const Bytes d = read_bytes("ec_p256_public.der");
    ASSERT_TRUE(der.add_public_key(d.data(), d.size()).ok());
    EXPECT_TRUE(der.verify(openssl_ecdsa(), image_digest().data()).ok());
}

TEST(SignatureVerify, AcceptsOpensslRsaPssWithAnySaltLength) {
    for (const char* key : {"rsa2048_public.pem", "rsa2048_public_pkcs1.pem"}) {
        const SignatureVerifier v = verifier_with({{key, ""}});
        const Error e = v.verify(openssl_pss(), image_digest().data());
        EXPECT_TRUE(e.ok()) << key << ": " << e.message();
        const Error max =
            v.verify(make_sig(kSignatureRsaPssSha256, read_bytes("image.rsa-pss-max.sig")),
                     image_digest().data());
        EXPECT_TRUE(max.ok()) << key << ": " << max.message();
    }
}

TEST(SignatureVerify, RefusesPkcs1v15ClaimingPss) {
    const SignatureVerifier v = verifier_with({{"rsa2048_public.pem", ""}});
    const Error e = v.verify(make_sig(kSignatureRsaPssSha256, read_bytes("image.rsa-pkcs1v15.sig")),
                             image_digest().data());
    EXPECT_EQ(e.status, Status::digest_mismatch);
}

TEST(SignatureVerify, RefusesAnyFlippedBitInTheSignatureOrTheDigest) {
    const SignatureVerifier v =
        verifier_with({{"ec_p256_public.pem", ""}, {"rsa2048_public.pem", ""}});
    for (const ImageSignature& good : {openssl_ecdsa(), openssl_pss()}) {
        ASSERT_TRUE(v.verify(good, image_digest().data()).ok());
        for (std::size_t byte = 0; byte < good.signature.size(); byte += 7) {
            ImageSignature bad = good;
            bad.signature[byte] ^= static_cast<std::uint8_t>(1u << (byte % 8));
            const Error e = v.verify(bad, image_digest().data());
            EXPECT_EQ(e.status, Status::digest_mismatch) << good.algorithm << " byte " << byte;
        }
        for (std::size_t byte = 0; byte < kSignedDigestSize; ++byte) {
            Digest d = image_digest();
            d[byte] ^= 0x80;
            EXPECT_EQ(v.verify(good, d.data()).status, Status::digest_mismatch)
                << good.algorithm << " digest byte " << byte;
        }
    }
}

TEST(SignatureVerify, RefusesTruncatedAndExtendedSignatures) {
    const SignatureVerifier v =
        verifier_with({{"ec_p256_public.pem", ""}, {"rsa2048_public.pem", ""}});
    for (const ImageSignature& good : {openssl_ecdsa(), openssl_pss()}) {
        ImageSignature longer = good;
        longer.signature.push_back(0);
        EXPECT_EQ(v.verify(longer, image_digest().data()).status, Status::digest_mismatch);
        ImageSignature shorter = good;
        shorter.signature.pop_back();
        EXPECT_EQ(v.verify(shorter, image_digest().data()).status, Status::digest_mismatch);
    }
}

TEST(SignatureVerify, RefusesTheWrongKey) {
    const SignatureVerifier v = verifier_with({{"ec_p256_other_public.pem", "other"}});
    const Error e = v.verify(openssl_ecdsa(), image_digest().data());
    EXPECT_EQ(e.status, Status::digest_mismatch);
    EXPECT_EQ(e.detail,
              "ecdsa-p256-sha256 signature does not verify with any of 1 trusted EC P-256 key(s)");
}

TEST(SignatureVerify, RefusesAnAlgorithmThatDoesNotFitTheKey) {
    const SignatureVerifier ec_only = verifier_with({{"ec_p256_public.pem", "ec"}});
    ImageSignature as_pss = openssl_ecdsa();
    as_pss.algorithm = std::string(kSignatureRsaPssSha256);
    Error e = ec_only.verify(as_pss, image_digest().data());
    EXPECT_EQ(e.status, Status::digest_mismatch);
    EXPECT_EQ(e.detail, "no trusted RSA key for rsa-pss-sha256");
    as_pss.key_id = "ec";
    e = ec_only.verify(as_pss, image_digest().data());
    EXPECT_EQ(e.detail, "key 'ec' does not fit rsa-pss-sha256, which needs an RSA key");

    // An RSA signature labelled ECDSA must not be checked as PKCS#1 v1.5 or anything else.
    const SignatureVerifier rsa_only = verifier_with({{"rsa2048_public.pem", ""}});
    for (const char* file : {"image.rsa-pss.sig", "image.rsa-pkcs1v15.sig"}) {
        e = rsa_only.verify(make_sig(kSignatureEcdsaP256Sha256, read_bytes(file)),
                            image_digest().data());
        EXPECT_EQ(e.status, Status::digest_mismatch) << file;
        EXPECT_EQ(e.detail, "no trusted EC P-256 key for ecdsa-p256-sha256");
    }
    e = rsa_only.verify(make_sig("rsa-pkcs1-sha256", read_bytes("image.rsa-pkcs1v15.sig")),
                        image_digest().data());
    EXPECT_EQ(e.status, Status::digest_mismatch);
}

TEST(SignatureVerify, KeyIdSelectsTheKeyAndUnknownIdsFallBack) {
    const SignatureVerifier v =
        verifier_with({{"ec_p256_other_public.pem", "other"}, {"ec_p256_public.pem", "main"}});
    ImageSignature sig = openssl_ecdsa();
    sig.key_id = "main";
    EXPECT_TRUE(v.verify(sig, image_digest().data()).ok());
    sig.key_id = "not-configured";
    EXPECT_TRUE(v.verify(sig, image_digest().data()).ok());
    sig.key_id = "other";
    const Error e = v.verify(sig, image_digest().data());
    EXPECT_EQ(e.status, Status::digest_mismatch);
    EXPECT_EQ(e.detail, "ecdsa-p256-sha256 signature does not verify with key 'other'");
}

TEST(SignatureVerify, GarbageNeverVerifiesNorCrashes) {
    const SignatureVerifier v =
        verifier_with({{"ec_p256_public.pem", ""}, {"rsa2048_public.pem", ""}});
    std::mt19937 rng(7);
    for (const std::size_t len :
         {0U, 1U, 2U, 8U, 64U, 70U, 71U, 72U, 255U, 256U, 257U, 512U, 1024U, 1025U}) {
        for (const auto alg : {kSignatureEcdsaP256Sha256, kSignatureRsaPssSha256}) {
            Bytes junk(len);
            for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
            EXPECT_EQ(v.verify(make_sig(alg, junk), image_digest().data()).status,
                      Status::digest_mismatch)
                << alg << " " << len;
            EXPECT_EQ(v.verify(make_sig(alg, Bytes(len, 0)), image_digest().data()).status,
                      Status::digest_mismatch)
                << alg << " zeros " << len;
        }
    }
    // A DER SEQUENCE header claiming more than there is.
    EXPECT_EQ(v.verify(make_sig(kSignatureEcdsaP256Sha256, {0x30, 0x82, 0xff, 0xff, 0x02, 0x01}),
                       image_digest().data())
                  .status,
              Status::digest_mismatch);
}

TEST(SignatureVerify, MisuseIsReported) {
    const SignatureVerifier none;
    Error e = none.verify(openssl_ecdsa(), image_digest().data());
    EXPECT_EQ(e.status, Status::digest_mismatch);
    EXPECT_EQ(e.detail, "no trusted public key is configured");
    const SignatureVerifier v = verifier_with({{"ec_p256_public.pem", ""}});
    EXPECT_EQ(v.verify(openssl_ecdsa(), nullptr).status, Status::invalid_argument);
    EXPECT_EQ(v.verify(make_sig("", {1}), image_digest().data()).status, Status::digest_mismatch);
}

// ---------------------------------------------------------------------------------------------
// Signing here, verifying here and with OpenSSL

TEST(SignImageDigest, SignsWithEcAndRsaKeysInPemAndDer) {
    const SignatureVerifier v =
        verifier_with({{"ec_p256_public.pem", ""}, {"rsa2048_public.pem", ""}});
    struct Case {
        const char* file;
        std::string_view alg;
        std::size_t max_len;
    };
    for (const Case& c : {Case{"ec_p256_private.pem", kSignatureEcdsaP256Sha256, 72},
                          Case{"ec_p256_private.der", kSignatureEcdsaP256Sha256, 72},
                          Case{"rsa2048_private.pem", kSignatureRsaPssSha256, 256}}) {
        ImageSignature sig;
        const Error e = sign_image_digest(read_text(c.file), image_digest().data(), "id-1", sig);
        ASSERT_TRUE(e.ok()) << c.file << ": " << e.message();
        EXPECT_EQ(sig.algorithm, c.alg) << c.file;
        EXPECT_EQ(sig.key_id, "id-1");
        EXPECT_LE(sig.signature.size(), c.max_len) << c.file;
        EXPECT_TRUE(v.verify(sig, image_digest().data()).ok()) << c.file;
        Digest other = image_digest();
        other[0] ^= 1;
        EXPECT_FALSE(v.verify(sig, other.data()).ok()) << c.file;
    }
}

TEST(SignImageDigest, RefusesUnusableKeys) {
    ImageSignature sig;
    for (const char* file : {"ec_p256_public.pem", "rsa1024_public.pem"}) {
        EXPECT_EQ(sign_image_digest(read_text(file), image_digest().data(), "", sig).status,
                  Status::invalid_argument)
            << file;
    }
    EXPECT_EQ(sign_image_digest("garbage", image_digest().data(), "", sig).status,
              Status::invalid_argument);
    EXPECT_EQ(sign_image_digest("", image_digest().data(), "", sig).status,
              Status::invalid_argument);
    EXPECT_EQ(sign_image_digest(read_text("ec_p256_private.pem"), nullptr, "", sig).status,
              Status::invalid_argument);
    EXPECT_EQ(sign_image_digest(read_text("ec_p256_private.pem"), image_digest().data(),
                                std::string(65, 'k'), sig)
                  .status,
              Status::invalid_argument);
    EXPECT_TRUE(sig.signature.empty());
}

/// Runs a shell command quietly; true when it exits 0.
bool run_quietly(const std::string& cmd) {
    const int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
    return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

class TempFile {
  public:
    explicit TempFile(const Bytes& data) {
        char name[] = "/tmp/ota_sig_XXXXXX";
        const int fd = mkstemp(name);
        EXPECT_GE(fd, 0);
        if (fd >= 0) {
            EXPECT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
            close(fd);
        }
        path_ = name;
    }
    ~TempFile() { std::remove(path_.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

TEST(SignImageDigest, OpensslVerifiesOurSignatures) {
    ASSERT_TRUE(run_quietly("openssl version")) << "the openssl command line is required";
    ImageSignature ec;
    ASSERT_TRUE(
        sign_image_digest(read_text("ec_p256_private.pem"), image_digest().data(), "", ec).ok());
    const TempFile ec_sig(ec.signature);
    EXPECT_TRUE(run_quietly("openssl dgst -sha256 -verify " + data_path("ec_p256_public.pem") +
                            " -signature " + ec_sig.path() + " " + data_path("image.bin")));

    ImageSignature rsa;
    ASSERT_TRUE(
        sign_image_digest(read_text("rsa2048_private.pem"), image_digest().data(), "", rsa).ok());
    const TempFile rsa_sig(rsa.signature);
    // saltlen:digest makes OpenSSL insist on a 32-byte salt, as documented.
    const std::string pss = "openssl pkeyutl -verify -pubin -inkey " +
                            data_path("rsa2048_public.pem") + " -in " + data_path("image.sha256") +
                            " -sigfile " + rsa_sig.path() +
                            " -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss"
                            " -pkeyopt rsa_mgf1_md:sha256 -pkeyopt rsa_pss_saltlen:";
    EXPECT_TRUE(run_quietly(pss + "digest"));
    EXPECT_FALSE(run_quietly(pss + "20"));  // the check above can fail

    Bytes flipped = ec.signature;
    flipped[10] ^= 1;
    const TempFile bad_sig(flipped);
    EXPECT_FALSE(run_quietly("openssl dgst -sha256 -verify " + data_path("ec_p256_public.pem") +
                             " -signature " + bad_sig.path() + " " + data_path("image.bin")));
}

// ---------------------------------------------------------------------------------------------
// The policy

SignaturePolicy policy_with_keys(bool required) {
    SignaturePolicy p;
    p.required = required;
    p.verifier = std::make_shared<const SignatureVerifier>(
        verifier_with({{"ec_p256_public.pem", "main"}, {"rsa2048_public.pem", "rsa"}}));
    return p;
}

TEST(SignaturePolicy, DefaultIgnoresSignaturesEntirely) {
    const SignaturePolicy p;
    EXPECT_FALSE(p.active());
    EXPECT_TRUE(p.validate().ok());
    for (const char* ext : {"", "{}", R"({"signature":"!!"})", "{"}) {
        EXPECT_FALSE(p.needs_digest(ext)) << ext;
        EXPECT_TRUE(check_image_signature(p, ext, image_digest().data()).ok()) << ext;
    }
    SignaturePolicy empty_verifier;
    empty_verifier.verifier = std::make_shared<const SignatureVerifier>();
    EXPECT_FALSE(empty_verifier.active());
}

TEST(SignaturePolicy, RequiredWithoutKeysIsAConfigurationErrorAndFailsJobs) {
    SignaturePolicy p;
    p.required = true;
    EXPECT_TRUE(p.active());
    const Error v = p.validate();
    EXPECT_EQ(v.status, Status::invalid_argument);
    EXPECT_EQ(v.detail, "signed images are required but no trusted public key is configured");
    const Error e = check_image_signature(p, ext_data_for(openssl_ecdsa()), image_digest().data());
    EXPECT_EQ(e.status, Status::digest_mismatch);
    EXPECT_EQ(e.detail, "image signature cannot be checked: no trusted public key is configured");
}

TEST(SignaturePolicy, RequiredFailsMissingAndBadSignatures) {
    const SignaturePolicy p = policy_with_keys(true);
    EXPECT_TRUE(p.validate().ok());
    for (const char* ext : {"", "{}", R"({"note":"no signature here"})", R"({"signature":null})"}) {
        EXPECT_TRUE(p.needs_digest(ext));
        const Error e = check_image_signature(p, ext, image_digest().data());
        EXPECT_EQ(e.status, Status::digest_mismatch) << ext;
        EXPECT_EQ(e.detail,
                  "image signature required but the job carries none (extData.signature)");
    }
    EXPECT_TRUE(
        check_image_signature(p, ext_data_for(openssl_ecdsa()), image_digest().data()).ok());
    EXPECT_TRUE(check_image_signature(p, ext_data_for(openssl_pss()), image_digest().data()).ok());

    ImageSignature bad = openssl_pss();
    bad.signature[100] ^= 4;
    const Error e = check_image_signature(p, ext_data_for(bad), image_digest().data());
    EXPECT_EQ(e.status, Status::digest_mismatch);
    EXPECT_EQ(e.detail,
              "image signature check failed: rsa-pss-sha256 signature does not verify with any of "
              "1 trusted RSA key(s)");
    const Error malformed = check_image_signature(
        p, R"({"signature":{"alg":"ecdsa-p256-sha256","sig":"%%%"}})", image_digest().data());
    EXPECT_EQ(malformed.status, Status::digest_mismatch);
    EXPECT_EQ(malformed.detail,
              "image signature is malformed: extData.signature.sig is not non-empty standard "
              "base64.");
}

TEST(SignaturePolicy, OptionalVerifiesWhatIsPresent) {
    const SignaturePolicy p = policy_with_keys(false);
    EXPECT_TRUE(p.active());
    for (const char* ext : {"", "{}", R"({"note":"unsigned"})", "[1]"}) {
        EXPECT_FALSE(p.needs_digest(ext)) << ext;
        EXPECT_TRUE(check_image_signature(p, ext, image_digest().data()).ok()) << ext;
    }
    const std::string good = ext_data_for(openssl_ecdsa(), R"({"note":"signed"})");
    EXPECT_TRUE(p.needs_digest(good));
    EXPECT_TRUE(check_image_signature(p, good, image_digest().data()).ok());

    Digest other = image_digest();
    other[31] ^= 1;
    const Error e = check_image_signature(p, good, other.data());
    EXPECT_EQ(e.status, Status::digest_mismatch);
    EXPECT_EQ(e.detail.rfind("image signature check failed: ", 0), 0u) << e.detail;

    const char* malformed = R"({"signature":{"alg":"sha1-dsa","sig":"QUJD"}})";
    EXPECT_TRUE(p.needs_digest(malformed));
    EXPECT_EQ(check_image_signature(p, malformed, image_digest().data()).status,
              Status::digest_mismatch);
    EXPECT_EQ(check_image_signature(p, good, nullptr).status, Status::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// ota_cloud sign

#ifdef OTA_CLOUD_BIN
/// Runs `cmd`, returning its exit code and stdout.
int run_capture(const std::string& cmd, std::string& out) {
    out.clear();
    FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r");
    if (p == nullptr) return -1;
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(OtaCloudSign, PrintsExtDataThatVerifies) {
    const SignaturePolicy p = policy_with_keys(true);
    for (const auto& [key, id] :
         {std::pair{"ec_p256_private.pem", "main"}, std::pair{"rsa2048_private.pem", "rsa"}}) {
        std::string out;
        const int rc = run_capture(std::string(OTA_CLOUD_BIN) + " sign --file " +
                                       data_path("image.bin") + " --key " + data_path(key) +
                                       " --key-id " + id + " --ext-data '{\"note\":1}'",
                                   out);
        ASSERT_EQ(rc, 0) << key;
        ASSERT_FALSE(out.empty());
        EXPECT_EQ(out.back(), '\n');
        out.pop_back();
        const auto j = nlohmann::json::parse(out);
        EXPECT_EQ(j.at("note"), 1);
        EXPECT_EQ(j.at("signature").at("keyId"), id);
        const Error e = check_image_signature(p, out, image_digest().data());
        EXPECT_TRUE(e.ok()) << key << ": " << e.message();
        Digest other = image_digest();
        other[5] ^= 2;
        EXPECT_FALSE(check_image_signature(p, out, other.data()).ok());
    }
}

TEST(OtaCloudSign, FailsOnUnusableInput) {
    std::string out;
    const std::string bin = OTA_CLOUD_BIN;
    EXPECT_EQ(run_capture(bin + " sign --file " + data_path("image.bin") + " --key " +
                              data_path("ec_p256_public.pem"),
                          out),
              1);
    EXPECT_EQ(out, "");
    EXPECT_EQ(
        run_capture(
            bin + " sign --file /nonexistent/image --key " + data_path("ec_p256_private.pem"), out),
        1);
    EXPECT_EQ(run_capture(bin + " sign --file " + data_path("image.bin"), out), 2);
}
#endif

}  // namespace
}  // namespace ota
