// The worker's validation building blocks: the allocation table (every device pointer a request
// carries goes through it) and the image completeness check.
#include <openssl/sha.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "remoting/server/allocation_table.h"
#include "remoting/server/image_cache.h"
#include "remoting/server/image_check.h"
#include "remoting/server/inventory.h"

namespace gpupool::server {
namespace {

TEST_CASE("allocation table: ranges inside one allocation only, no overflow") {
  using Kind = AllocationTable::Kind;
  AllocationTable t;
  t.Add(0x1000, 0x100, Kind::kOwned);
  t.Add(0x1100, 0x100, Kind::kOwned);    // adjacent: a range may not span both
  t.Add(0x5000, 0x10, Kind::kBorrowed);  // a module global
  struct Case {
    std::uint64_t ptr, size;
    bool ok;
  };
  for (Case k : {Case{0x1000, 0x100, true}, Case{0x1000, 0, true}, Case{0x10ff, 1, true},
                 Case{0x10ff, 2, false}, Case{0x1080, 0x100, false}, Case{0x0fff, 1, false},
                 Case{0x1200, 0, false}, Case{0x1100, UINT64_MAX, false}, Case{0x5008, 8, true},
                 Case{0x5008, 9, false}, Case{0, 1, false}, Case{UINT64_MAX, 1, false}}) {
    INFO(std::hex << k.ptr << " + " << k.size);
    CHECK(t.Contains(k.ptr, k.size) == k.ok);
  }
  CHECK(t.owned_bytes() == 0x200);
  std::uint64_t size = 0;
  CHECK_FALSE(t.RemoveOwned(0x5000, &size));  // globals are not the session's to free
  CHECK_FALSE(t.RemoveOwned(0x1001, &size));
  CHECK(t.RemoveOwned(0x1000, &size));
  CHECK(size == 0x100);
  CHECK(t.owned_bytes() == 0x100);
  CHECK_FALSE(t.Contains(0x1000, 1));
  t.RemoveBorrowedIn(0x5000, 0x10);
  CHECK_FALSE(t.Contains(0x5000, 1));
  CHECK(t.Contains(0x1100, 0x100));
}

TEST_CASE("allocation table: a range may run on through adjacent mappings, and only through them") {
  using Kind = AllocationTable::Kind;
  AllocationTable t;
  t.Add(0x10000, 0x1000, Kind::kMapped);
  t.Add(0x11000, 0x1000, Kind::kMapped);
  t.Add(0x12000, 0x2000, Kind::kMapped);
  t.Add(0x14000, 0x1000, Kind::kOwned);   // adjacent, but an allocation
  t.Add(0x20000, 0x1000, Kind::kMapped);  // after a gap
  t.Add(0x30000, 0x1000, Kind::kOwned);
  t.Add(0x31000, 0x1000, Kind::kMapped);  // an allocation does not run on into a mapping
  struct Case {
    std::uint64_t ptr, size;
    bool ok;
  };
  for (Case k : {Case{0x10000, 0x4000, true}, Case{0x10800, 0x1000, true}, Case{0x11fff, 0x2001, true},
                 Case{0x10000, 0x4001, false}, Case{0x13000, 0x2000, false}, Case{0x12000, 0xe001, false},
                 Case{0x30800, 0x1000, false}, Case{0x31000, 0x1000, true}, Case{0x10000, UINT64_MAX, false},
                 Case{0x13fff, UINT64_MAX - 0x13fff, false}}) {
    INFO(std::hex << k.ptr << " + " << k.size);
    CHECK(t.Contains(k.ptr, k.size) == k.ok);
  }
  CHECK(t.owned_bytes() == 0x2000);  // mappings are counted with their physical allocations
  std::uint64_t size = 0;
  CHECK_FALSE(t.RemoveOwned(0x10000, &size));
  CHECK(t.Remove(0x11000, AllocationTable::Kind::kMapped));
  CHECK_FALSE(t.Contains(0x10000, 0x2000));
  CHECK(t.Contains(0x12000, 0x2000));
  CHECK_FALSE(t.Remove(0x14000, AllocationTable::Kind::kMapped));  // not a mapping: stays
  CHECK(t.Contains(0x14000, 0x1000));
}

std::string Elf(std::uint64_t shoff, std::uint16_t shnum, std::size_t file_size) {
  std::string e(file_size, '\0');
  std::memcpy(e.data(),
              "\x7f"
              "ELF\x02",
              5);
  std::uint16_t shentsize = 64;
  std::memcpy(e.data() + 0x28, &shoff, 8);
  std::memcpy(e.data() + 0x3a, &shentsize, 2);
  std::memcpy(e.data() + 0x3c, &shnum, 2);
  return e;
}

std::string Fatbin(std::uint64_t fat_size, std::size_t file_size) {
  std::string f(file_size, '\0');
  std::uint32_t magic = 0xba55ed50;
  std::uint16_t header = 16;
  std::memcpy(f.data(), &magic, 4);
  std::memcpy(f.data() + 6, &header, 2);
  std::memcpy(f.data() + 8, &fat_size, 8);
  return f;
}

TEST_CASE("image check: complete ELF and fatbin only, never a wrapper") {
  struct Case {
    const char* what;
    std::string image;
    CUresult result;
  };
  std::string wrapper(24, '\0');
  std::uint32_t wrapper_magic = 0x466243b1;
  std::memcpy(wrapper.data(), &wrapper_magic, 4);
  const std::vector<Case> cases = {
      {"ELF with section table inside", Elf(64, 1, 128), CUDA_SUCCESS},
      {"ELF section table past the end", Elf(64, 2, 128), CUDA_ERROR_INVALID_IMAGE},
      {"ELF section offset overflows", Elf(UINT64_MAX - 8, 1, 128), CUDA_ERROR_INVALID_IMAGE},
      {"ELF header cut short", Elf(64, 1, 128).substr(0, 40), CUDA_ERROR_INVALID_IMAGE},
      {"fatbin complete", Fatbin(100, 116), CUDA_SUCCESS},
      {"fatbin declares more than it has", Fatbin(101, 116), CUDA_ERROR_INVALID_IMAGE},
      {"fatbin wrapper (holds a host pointer)", wrapper, CUDA_ERROR_INVALID_IMAGE},
      {"PTX text", ".version 8.0\n.target sm_90\n", CUDA_SUCCESS},
      {"too short for anything", "ab", CUDA_ERROR_INVALID_IMAGE},
  };
  for (const Case& k : cases) {
    INFO(k.what);
    CHECK(CheckImage(k.image) == k.result);
  }
}

}  // namespace
}  // namespace gpupool::server

namespace gpupool::server {
namespace {

std::string Hash(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof digest);
}

TEST_CASE("image cache: chunks in order, hash checked, a per-session byte limit") {
  ImageCache cache(100);
  std::string a(60, 'a'), b(60, 'b');
  CHECK(cache.Upload(Hash(a), 60, 0, a.substr(0, 30)) == CUDA_SUCCESS);
  CHECK_FALSE(cache.Has(Hash(a)));
  CHECK(cache.Upload(Hash(a), 60, 30, a.substr(30)) == CUDA_SUCCESS);
  REQUIRE(cache.Find(Hash(a)) != nullptr);
  CHECK(*cache.Find(Hash(a)) == a);
  CHECK(cache.Upload(Hash(b), 60, 0, b) == CUDA_ERROR_OUT_OF_MEMORY);                // 120 bytes > 100
  CHECK(cache.Upload(Hash(b), 60, 10, b.substr(10)) == CUDA_ERROR_INVALID_VALUE);    // out of order
  CHECK(cache.Upload(Hash(b), 40, 0, b.substr(0, 40)) == CUDA_ERROR_INVALID_IMAGE);  // hash mismatch
  std::string small(40, 's');
  CHECK(cache.Upload(Hash(small), 40, 0, small) == CUDA_SUCCESS);  // failed uploads gave their bytes back
  CHECK(cache.Upload(Hash(small), 40, 0, small.substr(0, 41)) == CUDA_SUCCESS);  // already cached
  CHECK(cache.Upload("short", 40, 0, small) == CUDA_ERROR_INVALID_VALUE);
}

}  // namespace
}  // namespace gpupool::server

namespace gpupool::server {
namespace {

TEST_CASE("inventory child output: GPUs parsed, errors passed on, garbage refused") {
  auto ok = ParseInventory(
      "driver 13000\ngpu 0 GPU-aaaa 1024 9 0 132 NVIDIA H200 NVL\ngpu 1 GPU-bbbb 2048 9 0 132 X\n");
  REQUIRE(ok.ok());
  CHECK(ok->driver_version == 13000);
  REQUIRE(ok->gpus.size() == 2);
  CHECK(ok->gpus[0].name == "NVIDIA H200 NVL");
  CHECK(ok->gpus[1].memory_bytes == 2048);
  CHECK(ok->gpus[0].healthy);
  auto sick = ParseInventory(
      "driver 1\ngpu 0 GPU-aaaa 1024 9 0 132 A\ngpu 1 GPU-bbbb 0 0 0 0 \n"
      "unhealthy 1 cuDeviceTotalMem failed\n");
  REQUIRE(sick.ok());
  CHECK(sick->gpus[0].healthy);
  CHECK_FALSE(sick->gpus[1].healthy);
  CHECK(sick->gpus[1].unhealthy == "cuDeviceTotalMem failed");
  CHECK_FALSE(ParseInventory("driver 1\nunhealthy 0 before its gpu line\n").ok());
  auto failed = ParseInventory("error Unavailable: cannot load libcuda.so.1\n");
  CHECK(failed.status().code() == Code::kUnavailable);
  CHECK(failed.status().message().find("cannot load libcuda.so.1") != std::string::npos);
  CHECK_FALSE(ParseInventory("").ok());
  CHECK_FALSE(ParseInventory("driver 1\ngpu zero\n").ok());
  CHECK_FALSE(ParseInventory("driver 1\nsurprise\n").ok());
}

}  // namespace
}  // namespace gpupool::server
