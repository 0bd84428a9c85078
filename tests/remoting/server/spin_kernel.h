// A kernel that does nothing, for server tests on the emulated device: with --emulated-kernel-time
// each launch keeps its stream busy for that long, so a test can hold a stream without a GPU.
//
// Thread-safety: as TestClient.
#pragma once

#include <cstdint>

#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {

// Loads the kernel into device 0's primary context (made current); returns its function id.
std::uint64_t LoadSpin(TestClient& c);
// Launches it (one block of 32 threads) on `stream`.
void Launch(TestClient& c, std::uint64_t function, std::uint64_t stream = 0);

}  // namespace gpupool::testing
