// ota::tools::digest_file (tools/common), shared by ota_cloud and ota_fleet's cloud: known
// digests, a file longer than one read piece, and the error for a file that cannot be read.
#include "common/file_digest.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace {

std::string temp_file(const std::string& content) {
    static int n = 0;
    const std::string path =
        "/tmp/ota-file-digest-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".bin";
    std::FILE* f = std::fopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    if (f != nullptr) {
        std::fwrite(content.data(), 1, content.size(), f);
        std::fclose(f);
    }
    return path;
}

TEST(FileDigest, KnownDigestsAndSize) {
    const std::string path = temp_file("abc");
    std::uint64_t size = 0;
    std::string hex;
    ASSERT_TRUE(ota::tools::digest_file(path, ota::DigestAlgorithm::sha256, size, hex).ok());
    EXPECT_EQ(size, 3u);
    EXPECT_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ASSERT_TRUE(ota::tools::digest_file(path, ota::DigestAlgorithm::md5, size, hex).ok());
    EXPECT_EQ(hex, "900150983cd24fb0d6963f7d28e17f72");
    std::remove(path.c_str());

    const std::string empty = temp_file("");
    ASSERT_TRUE(ota::tools::digest_file(empty, ota::DigestAlgorithm::md5, size, hex).ok());
    EXPECT_EQ(size, 0u);
    EXPECT_EQ(hex, "d41d8cd98f00b204e9800998ecf8427e");
    std::remove(empty.c_str());
}

TEST(FileDigest, FileLongerThanOnePieceIsHashedWhole) {
    // 1 MiB + 3 bytes of 'a': the digest equals the one of the same bytes hashed at once.
    const std::string content(1024 * 1024 + 3, 'a');
    const std::string path = temp_file(content);
    std::uint64_t size = 0;
    std::string hex;
    ASSERT_TRUE(ota::tools::digest_file(path, ota::DigestAlgorithm::sha256, size, hex).ok());
    EXPECT_EQ(size, content.size());
    ota::Hasher h;
    ASSERT_EQ(h.start(ota::DigestAlgorithm::sha256), ota::Status::ok);
    ASSERT_EQ(h.update(reinterpret_cast<const std::uint8_t*>(content.data()), content.size()),
              ota::Status::ok);
    std::string expected;
    ASSERT_EQ(h.finish_hex(expected), ota::Status::ok);
    EXPECT_EQ(hex, expected);
    std::remove(path.c_str());
}

TEST(FileDigest, UnreadableFileIsStorageFailedNamingThePath) {
    std::uint64_t size = 0;
    std::string hex;
    const ota::Error e =
        ota::tools::digest_file("/nonexistent/image.bin", ota::DigestAlgorithm::sha256, size, hex);
    EXPECT_EQ(e.status, ota::Status::storage_failed);
    EXPECT_EQ(e.detail, "cannot read /nonexistent/image.bin: No such file or directory");
    const ota::Error dir = ota::tools::digest_file("/tmp", ota::DigestAlgorithm::sha256, size, hex);
    EXPECT_EQ(dir.status, ota::Status::storage_failed) << dir.detail;
}

}  // namespace
