// CUDA_VISIBLE_DEVICES as the driver reads it, which the emulated device follows too (a session
// worker is limited to its admitted GPU with it).
#include <catch2/catch.hpp>

#include "remoting/server/gpu_identity.h"

namespace gpupool::server {
namespace {

const std::vector<std::string> kUuids = {"GPU-0a000000-0000-4000-8000-000000000000",
                                         "GPU-0b000000-0000-4000-8000-000000000000",
                                         "GPU-0b100000-0000-4000-8000-000000000000"};

TEST_CASE("CUDA_VISIBLE_DEVICES: indices and UUIDs in the order given") {
  CHECK(VisibleDevices("0", kUuids) == std::vector<int>{0});
  CHECK(VisibleDevices("2,0", kUuids) == std::vector<int>{2, 0});
  CHECK(VisibleDevices(kUuids[1], kUuids) == std::vector<int>{1});
  CHECK(VisibleDevices("GPU-0a, 1", kUuids) == std::vector<int>{0, 1});  // a unique prefix is enough
}

TEST_CASE("CUDA_VISIBLE_DEVICES: the list ends at the first entry that names no single new GPU") {
  CHECK(VisibleDevices("", kUuids).empty());
  CHECK(VisibleDevices("3", kUuids).empty());
  CHECK(VisibleDevices("1,7,0", kUuids) == std::vector<int>{1});
  CHECK(VisibleDevices("0,0,1", kUuids) == std::vector<int>{0});         // repeated
  CHECK(VisibleDevices("GPU-0b,0", kUuids).empty());                     // ambiguous prefix
  CHECK(VisibleDevices("1,GPU-ffff,2", kUuids) == std::vector<int>{1});  // unknown UUID
  CHECK(VisibleDevices("-1", kUuids).empty());
  CHECK(VisibleDevices("99999999999999999999", kUuids).empty());  // no overflow
}

TEST_CASE("GPU UUIDs print as the driver prints them") {
  CUuuid uuid{};
  for (int i = 0; i < 16; ++i) uuid.bytes[i] = static_cast<char>(i * 17);
  CHECK(FormatGpuUuid(uuid) == "GPU-00112233-4455-6677-8899-aabbccddeeff");
}

}  // namespace
}  // namespace gpupool::server
