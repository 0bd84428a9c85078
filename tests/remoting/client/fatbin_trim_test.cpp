#include "remoting/client/fatbin_trim.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace gpupool::client {
namespace {

constexpr std::uint16_t kPtx = 1, kElf = 2;

template <typename T>
void Put(std::string& b, std::size_t offset, T v) {
  std::memcpy(b.data() + offset, &v, sizeof v);
}
template <typename T>
T Get(const std::string& b, std::size_t offset) {
  T v;
  std::memcpy(&v, b.data() + offset, sizeof v);
  return v;
}

// One entry: a 64-byte header (kind, header size, payload size, arch) and `payload` bytes of `fill`.
std::string Entry(std::uint16_t kind, std::uint32_t arch, std::size_t payload, char fill) {
  std::string e(64, '\0');
  Put<std::uint16_t>(e, 0, kind);
  Put<std::uint16_t>(e, 2, 0x101);
  Put<std::uint32_t>(e, 4, 64);
  Put<std::uint64_t>(e, 8, payload);
  Put<std::uint32_t>(e, 28, arch);
  return e + std::string(payload, fill);
}

std::string Container(const std::vector<std::string>& entries) {
  std::string body;
  for (const std::string& e : entries) body += e;
  std::string c(16, '\0');
  Put<std::uint32_t>(c, 0, 0xba55ed50);
  Put<std::uint16_t>(c, 4, 1);
  Put<std::uint16_t>(c, 6, 16);
  Put<std::uint64_t>(c, 8, body.size());
  return c + body;
}

std::optional<std::string> Trim(const std::string& c, std::vector<GpuArch> gpus) {
  return TrimFatbin(c.data(), c.size(), gpus);
}

// A library's usual fatbin: cubins from sm_75 to sm_120 and PTX for the oldest and newest.
const std::string kSm75 = Entry(kElf, 75, 40, 'a'), kSm80 = Entry(kElf, 80, 48, 'b'),
                  kSm86 = Entry(kElf, 86, 56, 'c'), kSm90 = Entry(kElf, 90, 64, 'd'),
                  kSm100 = Entry(kElf, 100, 72, 'e'), kSm120 = Entry(kElf, 120, 80, 'f'),
                  kPtx75 = Entry(kPtx, 75, 24, 'p'), kPtx120 = Entry(kPtx, 120, 32, 'q'),
                  kOther = Entry(7, 90, 8, 'z');
const std::string kLibrary = Container({kSm75, kSm80, kSm86, kSm90, kSm100, kSm120, kPtx75, kPtx120});

TEST_CASE("a fatbin keeps only the cubins and PTX the GPU can use, byte for byte and in order") {
  auto h200 = Trim(kLibrary, {{9, 0}});
  REQUIRE(h200.has_value());
  CHECK(*h200 == Container({kSm90, kPtx75}));
  CHECK(Get<std::uint64_t>(*h200, 8) == h200->size() - 16);  // the header's entries size follows

  // Same major, lower or equal minor: an sm_86 GPU runs sm_80 and sm_86 cubins, not sm_90.
  auto a10 = Trim(kLibrary, {{8, 6}});
  REQUIRE(a10.has_value());
  CHECK(*a10 == Container({kSm80, kSm86, kPtx75}));

  // Several GPUs keep what any of them can use.
  auto mixed = Trim(kLibrary, {{9, 0}, {12, 0}});
  REQUIRE(mixed.has_value());
  CHECK(*mixed == Container({kSm90, kSm120, kPtx75, kPtx120}));
}

TEST_CASE("a fatbin is sent whole when trimming would drop nothing or leave nothing") {
  CHECK_FALSE(Trim(Container({kSm90, kPtx75}), {{9, 0}}).has_value());  // nothing to drop
  // Nothing an sm_90 GPU can run: the driver must see the original and say so itself.
  CHECK_FALSE(Trim(Container({kSm100, kSm120, kPtx120}), {{9, 0}}).has_value());
  // An entry of a kind we do not know stays, but is not enough on its own.
  CHECK_FALSE(Trim(Container({kOther, kSm100}), {{9, 0}}).has_value());
  auto with_other = Trim(Container({kOther, kSm90, kSm100}), {{9, 0}});
  REQUIRE(with_other.has_value());
  CHECK(*with_other == Container({kOther, kSm90}));
  CHECK_FALSE(Trim(kLibrary, {}).has_value());  // no GPU known
}

TEST_CASE("a fatbin the trimmer does not understand is sent as it is") {
  CHECK_FALSE(Trim(std::string(8, '\0'), {{9, 0}}).has_value());  // shorter than a header
  std::string elf = kSm90;                                        // not a container
  CHECK_FALSE(Trim(elf, {{9, 0}}).has_value());

  std::string lying = kLibrary;  // an entry claims more payload than the container holds
  Put<std::uint64_t>(lying, 16 + 8, 1ull << 40);
  CHECK_FALSE(Trim(lying, {{9, 0}}).has_value());

  std::string short_header = kLibrary;  // an entry header too short to hold the arch
  Put<std::uint32_t>(short_header, 16 + 4, 16);
  CHECK_FALSE(Trim(short_header, {{9, 0}}).has_value());

  std::string trailing = kLibrary + std::string(8, '\0');  // bytes after the last entry
  Put<std::uint64_t>(trailing, 8, trailing.size() - 16);
  CHECK_FALSE(Trim(trailing, {{9, 0}}).has_value());

  std::string header_past_end = kLibrary;  // a container header larger than the image
  Put<std::uint16_t>(header_past_end, 6, 0xffff);
  CHECK_FALSE(Trim(header_past_end, {{9, 0}}).has_value());
}

}  // namespace
}  // namespace gpupool::client
