// The GPU list a server publishes next to its node-local socket, and the GPU UUID text.
#include "common/local_gpu_list.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/gpu_uuid.h"

namespace gpupool {
namespace {

TEST_CASE("GPU list: what the server writes is what the client reads") {
  const std::vector<std::string> uuids = {"GPU-00112233-4455-6677-8899-aabbccddeeff",
                                          "GPU-ffeeddcc-bbaa-9988-7766-554433221100"};
  auto parsed = ParseLocalGpuList(FormatLocalGpuList(uuids));
  REQUIRE(parsed.ok());
  CHECK(*parsed == uuids);
  CHECK(ParseLocalGpuList("")->empty());
  CHECK(LocalGpuListPath("/run/gpupool/server.sock") == "/run/gpupool/server.sock.gpus");
}

TEST_CASE("GPU list: anything the server would not write is refused") {
  for (const char* text : {"GPU-1", "gpu-1\n", "GPU-1 \n", "GPU-1\r\n", "\n", "GPU-1\nnot a gpu\n"}) {
    INFO(text);
    CHECK(ParseLocalGpuList(text).status().code() == Code::kInvalidArgument);
  }
  CHECK_FALSE(ParseLocalGpuList("GPU-" + std::string(61, 'a') + "\n").ok());
  std::string many;
  for (int i = 0; i < 1025; ++i) many += "GPU-" + std::to_string(i) + "\n";
  CHECK_FALSE(ParseLocalGpuList(many).ok());
}

TEST_CASE("GPU UUIDs: named from the 16 bytes as the driver prints them, compared without case") {
  const std::string bytes("\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff", 16);
  CHECK(FormatGpuUuid(std::string_view(bytes.data(), 16)) == "GPU-00112233-4455-6677-8899-aabbccddeeff");
  CHECK(FormatGpuUuid("short").empty());
  CHECK(SameGpuUuid("GPU-00112233-4455-6677-8899-AABBCCDDEEFF", "GPU-00112233-4455-6677-8899-aabbccddeeff"));
  CHECK_FALSE(SameGpuUuid("GPU-1", "GPU-2"));
  CHECK_FALSE(SameGpuUuid("", ""));
}

}  // namespace
}  // namespace gpupool
