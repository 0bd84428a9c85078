// The DeviceOutput frame's payload: round trip, and strict decoding of hostile input.
#include "remoting/protocol/device_output.h"

#include <catch2/catch.hpp>

#include "remoting/protocol/frame.h"

namespace gpupool::protocol {
namespace {

TEST_CASE("DeviceOutput round-trips its dropped count and text") {
  const std::string payload = EncodeDeviceOutputHead(12345) + "hello from the device\n";
  auto m = DecodeDeviceOutput(payload);
  REQUIRE(m.ok());
  CHECK(m->dropped == 12345);
  CHECK(m->text == "hello from the device\n");

  auto empty = DecodeDeviceOutput(EncodeDeviceOutputHead(7));
  REQUIRE(empty.ok());
  CHECK(empty->dropped == 7);
  CHECK(empty->text.empty());
}

TEST_CASE("DeviceOutput rejects a short payload and text over one chunk") {
  CHECK(DecodeDeviceOutput("").status().code() == Code::kInvalidArgument);
  CHECK(DecodeDeviceOutput(std::string(7, '\0')).status().code() == Code::kInvalidArgument);
  CHECK(DecodeDeviceOutput(EncodeDeviceOutputHead(0) + std::string(kChunkSize, 'x')).ok());
  CHECK(DecodeDeviceOutput(EncodeDeviceOutputHead(0) + std::string(kChunkSize + 1, 'x')).status().code() ==
        Code::kInvalidArgument);
}

}  // namespace
}  // namespace gpupool::protocol
