#include "remoting/client/image_size.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <vector>

namespace gpupool::client {
namespace {

template <typename T>
void Put(std::vector<unsigned char>& b, std::size_t offset, T v) {
  std::memcpy(b.data() + offset, &v, sizeof v);
}

TEST_CASE("a fatbin spans its header plus its payload size") {
  std::vector<unsigned char> fatbin(200, 0xee);
  Put<std::uint32_t>(fatbin, 0, 0xba55ed50);
  Put<std::uint16_t>(fatbin, 4, 1);
  Put<std::uint16_t>(fatbin, 6, 16);
  Put<std::uint64_t>(fatbin, 8, 120);
  auto span = FindImageSpan(fatbin.data());
  REQUIRE(span.ok());
  CHECK(span->data == fatbin.data());
  CHECK(span->size == 136);

  struct Wrapper {
    std::uint32_t magic, version;
    const void* data;
    void* unused;
  } wrapper{0x466243b1, 1, fatbin.data(), nullptr};
  auto wrapped = FindImageSpan(&wrapper);
  REQUIRE(wrapped.ok());
  CHECK(wrapped->data == fatbin.data());  // the wrapper's own bytes hold a host pointer: never sent
  CHECK(wrapped->size == 136);
}

TEST_CASE("an ELF image spans to its last table or section") {
  std::vector<unsigned char> elf(1024, 0);
  std::memcpy(elf.data(),
              "\x7f"
              "ELF",
              4);
  elf[4] = 2;                        // 64-bit
  Put<std::uint64_t>(elf, 0x20, 0);  // no program headers
  Put<std::uint64_t>(elf, 0x28, 512);
  Put<std::uint16_t>(elf, 0x3a, 64);
  Put<std::uint16_t>(elf, 0x3c, 2);
  // section 1: PROGBITS at 300, 100 bytes; section headers end at 512 + 128 = 640.
  Put<std::uint32_t>(elf, 512 + 64 + 4, 1);
  Put<std::uint64_t>(elf, 512 + 64 + 0x18, 300);
  Put<std::uint64_t>(elf, 512 + 64 + 0x20, 100);
  auto span = FindImageSpan(elf.data());
  REQUIRE(span.ok());
  CHECK(span->size == 640);
  // A section past the table extends the image; a NOBITS one does not.
  Put<std::uint64_t>(elf, 512 + 64 + 0x18, 700);
  CHECK(FindImageSpan(elf.data())->size == 800);
  Put<std::uint32_t>(elf, 512 + 64 + 4, 8);
  CHECK(FindImageSpan(elf.data())->size == 640);
}

TEST_CASE("PTX spans its text and NUL, bad wrappers are rejected") {
  const char ptx[] = ".version 8.0\n.target sm_90\n";
  auto span = FindImageSpan(ptx);
  REQUIRE(span.ok());
  CHECK(span->size == sizeof ptx);
  struct {
    std::uint32_t magic, version;
    const void* data;
  } bad{0x466243b1, 1, ptx};
  CHECK_FALSE(FindImageSpan(&bad).ok());
  CHECK_FALSE(FindImageSpan(nullptr).ok());
}

}  // namespace
}  // namespace gpupool::client
