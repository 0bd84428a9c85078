#include "remoting/client/dark_api/md2.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

namespace gpupool::dark_api {
namespace {

std::span<const std::uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string Hex(const Md2Digest& digest) {
  std::string out;
  char byte[3];
  for (std::uint8_t b : digest) {
    std::snprintf(byte, sizeof byte, "%02x", b);
    out += byte;
  }
  return out;
}

TEST_CASE("MD2 matches the RFC 1319 test suite") {
  struct Case {
    std::string message;
    std::string digest;
  };
  // RFC 1319, appendix A.5.
  const Case cases[] = {
      {"", "8350e5a3e24c153df2275c9f80692773"},
      {"a", "32ec01ec4a6dac72c0ab96fb34c0b5d1"},
      {"abc", "da853b0d3f88d99b30283a69e6ded6bb"},
      {"message digest", "ab4f496bfb2a530b219ff33031fe06b0"},
      {"abcdefghijklmnopqrstuvwxyz", "4e8ddff3650292ab5a4108c3aa47940b"},
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "da33def2a42df13975352846c30338cd"},
      {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
       "d5976f79d83d3a0dc9806c3c66f3efd8"},
  };
  for (const Case& c : cases) {
    INFO("message \"" << c.message << "\"");
    CHECK(Hex(Md2Of(Bytes(c.message))) == c.digest);
  }
}

TEST_CASE("MD2 gives the same digest however the input is split") {
  const std::string message =
      "12345678901234567890123456789012345678901234567890123456789012345678901234567890";
  for (std::size_t split : {0u, 1u, 15u, 16u, 17u, 40u, 80u}) {
    Md2 md2;
    md2.Update(Bytes(message).subspan(0, split));
    md2.Update(Bytes(message).subspan(split));
    CHECK(Hex(md2.Final()) == "d5976f79d83d3a0dc9806c3c66f3efd8");
  }
}

TEST_CASE("HMAC-MD2 is MD2 over the outer pad and the inner digest (RFC 2104)") {
  const std::string message = "what the runtime hashes";
  for (std::size_t key_size : {0u, 5u, 16u, 40u}) {
    INFO("key of " << key_size << " bytes");
    std::string key(key_size, '\0');
    for (std::size_t i = 0; i < key_size; ++i) key[i] = static_cast<char>(i * 7 + 1);
    // Keys longer than a block are hashed first; shorter ones are zero-padded to a block.
    std::string block = key.size() > 16 ? [&] {
      const Md2Digest d = Md2Of(Bytes(key));
      return std::string(d.begin(), d.end());
    }()
                                        : key;
    block.resize(16, '\0');
    std::string inner_key(16, '\0');
    std::string outer_key(16, '\0');
    for (int i = 0; i < 16; ++i) {
      inner_key[static_cast<std::size_t>(i)] = static_cast<char>(block[static_cast<std::size_t>(i)] ^ 0x36);
      outer_key[static_cast<std::size_t>(i)] = static_cast<char>(block[static_cast<std::size_t>(i)] ^ 0x5c);
    }
    const Md2Digest inner = Md2Of(Bytes(inner_key + message));
    const Md2Digest expected = Md2Of(Bytes(outer_key + std::string(inner.begin(), inner.end())));
    CHECK(HmacMd2(Bytes(key), Bytes(message)) == expected);
  }
  CHECK(HmacMd2(Bytes("k"), Bytes("a")) != HmacMd2(Bytes("k"), Bytes("b")));
  CHECK(HmacMd2(Bytes("k"), Bytes("a")) != HmacMd2(Bytes("l"), Bytes("a")));
}

}  // namespace
}  // namespace gpupool::dark_api
