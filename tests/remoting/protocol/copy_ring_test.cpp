// The copy ring's shared pieces: the geometry decodes strictly, and the consumed count wakes a waiter
// in another thread (across processes it is the same futex). Its descriptor's passing: transport_test.
#include "remoting/protocol/copy_ring.h"

#include <catch2/catch.hpp>
#include <thread>

namespace gpupool::protocol {
namespace {

TEST_CASE("copy ring: the geometry decodes strictly") {
  const std::string good = EncodeRingGeometry({1, 2, 3, 4});
  CHECK(DecodeRingGeometry(good).ok());
  CHECK(DecodeRingGeometry(good.substr(0, good.size() - 1)).status().code() == Code::kInvalidArgument);
  CHECK(DecodeRingGeometry(good + "x").status().code() == Code::kInvalidArgument);
}

TEST_CASE("copy ring: a waiter wakes when the count it needs is reached, modulo 2^32") {
  RingHeader header{};
  header.consumed.store(0xfffffffeu);  // about to wrap
  CHECK(WaitConsumed(&header, 0xfffffffeu, std::chrono::milliseconds(0)));
  CHECK(WaitConsumed(&header, 0xfffffff0u, std::chrono::milliseconds(0)));  // long passed
  CHECK_FALSE(WaitConsumed(&header, 1, std::chrono::milliseconds(0)));
  std::thread worker([&] {
    for (int i = 0; i < 3; ++i) MarkConsumed(&header);  // 0xffffffff, 0, 1
  });
  CHECK(WaitConsumed(&header, 1, std::chrono::seconds(20)));
  worker.join();
  CHECK(header.consumed.load() == 1u);
}

}  // namespace
}  // namespace gpupool::protocol
