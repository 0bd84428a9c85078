// WriteJitOutputs: fills a program's JIT output options as the driver does, from logs and a wall time
// that were made elsewhere: the client from the server's reply, the emulated device from nvJitLink.
// Header-only and CUDA-typed, for the sides that include cuda.h (the protocol library itself has no
// CUDA headers).
//
//   CU_JIT_INFO_LOG_BUFFER / CU_JIT_ERROR_LOG_BUFFER  the log, truncated to the size option's value
//       minus one, NUL-terminated (nothing written without a size option or with size 0);
//   CU_JIT_*_LOG_BUFFER_SIZE_BYTES  the bytes written, the NUL included (0 for an empty log);
//   CU_JIT_WALL_TIME  the float milliseconds, stored in the option's slot.
//
// Thread-safety: pure function over the caller's arrays.
#pragma once

#include <cuda.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace gpupool::protocol {

inline void WriteJitOutputs(unsigned count, const CUjit_option* options, void** values, std::string_view info,
                            std::string_view error, float wall_ms) {
  if (count == 0 || options == nullptr || values == nullptr) return;
  auto find = [&](CUjit_option option) -> int {
    for (unsigned i = 0; i < count; ++i)
      if (options[i] == option) return static_cast<int>(i);
    return -1;
  };
  auto write_log = [&](CUjit_option buffer_option, CUjit_option size_option, std::string_view log) {
    const int b = find(buffer_option), n = find(size_option);
    if (n < 0) return;
    const auto size = static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(values[n]));
    std::size_t written = 0;
    if (b >= 0 && values[b] != nullptr && size > 0) {
      const std::size_t len = std::min<std::size_t>(log.size(), size - 1);
      if (len > 0) std::memcpy(values[b], log.data(), len);  // an empty log's data() may be null
      static_cast<char*>(values[b])[len] = '\0';
      written = len == 0 ? 0 : len + 1;
    }
    values[n] = reinterpret_cast<void*>(static_cast<std::uintptr_t>(written));
  };
  write_log(CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, info);
  write_log(CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, error);
  if (int w = find(CU_JIT_WALL_TIME); w >= 0) {
    values[w] = nullptr;
    std::memcpy(&values[w], &wall_ms, sizeof wall_ms);
  }
}

}  // namespace gpupool::protocol
