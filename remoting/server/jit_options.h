// JitOptions: a client's JIT options made into the arrays a driver call takes (cuModuleLoadDataEx,
// cuLinkCreate), and what the call wrote back. Only options whose slot holds a number are accepted
// (protocol/jit_options.h): a client never hands the driver a pointer. A *_LOG_BUFFER_SIZE_BYTES
// option gets a log buffer of the worker's own, of that size capped at kMaxJitLogBytes.
//
// Thread-safety: none. The arrays stay valid while the object lives and is not moved.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gpupool::server {

class JitOptions {
 public:
  // CUDA_ERROR_INVALID_VALUE for unequal counts, more than kMaxJitOptions, or an option that may
  // not travel.
  CUresult Parse(const std::vector<std::int32_t>& codes, const std::vector<std::uint64_t>& values);

  unsigned count() const { return static_cast<unsigned>(options_.size()); }
  CUjit_option* options() { return options_.data(); }
  void** values() { return values_.data(); }

  // After the call: the client's options' slots (as u64), and the logs (NUL-free, bounded).
  std::vector<std::uint64_t> ValuesAfter() const;
  std::string InfoLog() const { return Log(info_); }
  std::string ErrorLog() const { return Log(error_); }

 private:
  static std::string Log(const std::string& buffer);
  // Adds `buffer_option` pointing at `buffer`, sized by the slot at `size_index`.
  void AttachLog(std::size_t size_index, CUjit_option buffer_option, std::string* buffer);

  std::vector<CUjit_option> options_;
  std::vector<void*> values_;
  std::size_t client_count_ = 0;
  std::string info_, error_;
};

}  // namespace gpupool::server
