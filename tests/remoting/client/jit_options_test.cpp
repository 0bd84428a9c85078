// The client's JIT option split (jit_options.h) and the driver-style output filling it shares with
// the emulated device (protocol/jit_logs.h): what travels, what is refused, how logs are truncated
// and terminated, and which slots are written back.
#include "remoting/client/jit_options.h"

#include <catch2/catch.hpp>
#include <cstring>

#include "remoting/protocol/jit_logs.h"

namespace gpupool::client {
namespace {

void* Value(std::uintptr_t v) {
  return reinterpret_cast<void*>(v);
}
std::uintptr_t Number(void* slot) {
  return reinterpret_cast<std::uintptr_t>(slot);
}

TEST_CASE("JIT options: numbers travel, log buffers stay, arrays refused, unknown codes invalid") {
  char info[8] = {}, error[4] = {};
  CUjit_option options[] = {CU_JIT_MAX_REGISTERS,
                            CU_JIT_INFO_LOG_BUFFER,
                            CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                            CU_JIT_ERROR_LOG_BUFFER,
                            CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                            CU_JIT_WALL_TIME,
                            CU_JIT_THREADS_PER_BLOCK};
  void* values[] = {Value(32), info, Value(sizeof info), error, Value(sizeof error), nullptr, Value(128)};
  JitOptions steering;  // a lazy library load may carry these: nothing to write back
  REQUIRE(steering.Parse(1, options, values) == CUDA_SUCCESS);
  CHECK_FALSE(steering.has_outputs());
  JitOptions jit;
  REQUIRE(jit.Parse(7, options, values) == CUDA_SUCCESS);
  CHECK(jit.has_outputs());
  CHECK(jit.codes() == std::vector<std::int32_t>{CU_JIT_MAX_REGISTERS, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                                                 CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_WALL_TIME,
                                                 CU_JIT_THREADS_PER_BLOCK});
  CHECK(jit.values() == std::vector<std::uint64_t>{32, sizeof info, sizeof error, 0, 128});

  // The reply: the slots after the call (wall time 2.5 ms in the slot's first bytes, 96 threads).
  std::uint64_t wall = 0;
  const float ms = 2.5f;
  std::memcpy(&wall, &ms, sizeof ms);
  CHECK_FALSE(jit.Fill({32, 0, 0}, "", ""));  // a reply that does not match what was sent
  REQUIRE(jit.Fill({32, 99, 99, wall, 96}, "a long info log", "bad"));
  CHECK(std::string(info) == "a long ");  // truncated to the buffer, NUL-terminated
  CHECK(Number(values[2]) == sizeof info);
  CHECK(std::string(error) == "bad");
  CHECK(Number(values[4]) == 4);
  float written = 0;
  std::memcpy(&written, &values[5], sizeof written);
  CHECK(written == ms);
  CHECK(Number(values[6]) == 96);
  CHECK(Number(values[0]) == 32);  // an input only: untouched

  CUjit_option refused[] = {CU_JIT_GLOBAL_SYMBOL_NAMES};
  void* refused_values[] = {nullptr};
  CHECK(JitOptions().Parse(1, refused, refused_values) == CUDA_ERROR_NOT_SUPPORTED);
  CUjit_option unknown[] = {static_cast<CUjit_option>(CU_JIT_NUM_OPTIONS)};
  CHECK(JitOptions().Parse(1, unknown, refused_values) == CUDA_ERROR_INVALID_VALUE);
  CHECK(JitOptions().Parse(1, nullptr, nullptr) == CUDA_ERROR_INVALID_VALUE);
  CHECK(JitOptions().Parse(0, nullptr, nullptr) == CUDA_SUCCESS);
}

TEST_CASE("JIT outputs: an empty log writes size 0, a size without a buffer writes nothing") {
  char info[16];
  std::memset(info, 'x', sizeof info);
  CUjit_option options[] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                            CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void* values[] = {info, Value(sizeof info), Value(64)};
  protocol::WriteJitOutputs(3, options, values, "", "an error with nowhere to go", 0);
  CHECK(info[0] == '\0');
  CHECK(Number(values[1]) == 0);
  CHECK(Number(values[2]) == 0);
}

}  // namespace
}  // namespace gpupool::client
