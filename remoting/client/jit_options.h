// JitOptions: a program's JIT options (cuModuleLoadDataEx, cuLibraryLoadData, cuLinkCreate) split for
// the server (protocol/jit_options.h): the numbers travel, the log buffers stay here and are filled
// from the server's reply, as the driver fills them (protocol/jit_logs.h).
//
// Thread-safety: none; one call's object. The program's arrays must stay valid until Fill, as the
// driver requires of cuLinkCreate's until cuLinkComplete.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gpupool::client {

class JitOptions {
 public:
  // CUDA_ERROR_INVALID_VALUE for an option cuda.h does not define or arrays missing for a count;
  // CUDA_ERROR_NOT_SUPPORTED (logged once) for the pointer-array options gpupool does not forward.
  CUresult Parse(unsigned count, CUjit_option* options, void** values);

  const std::vector<std::int32_t>& codes() const { return codes_; }
  const std::vector<std::uint64_t>& values() const { return wire_values_; }
  // Whether the driver writes anything back (logs, their sizes, wall time, threads per block).
  bool has_outputs() const { return has_outputs_; }

  // Writes the program's outputs from a reply: the slots the driver writes back (`after`, one per
  // code sent), the logs and the wall time. False when `after` does not match what was sent.
  bool Fill(const std::vector<std::uint64_t>& after, const std::string& info, const std::string& error) const;

 private:
  unsigned count_ = 0;
  CUjit_option* options_ = nullptr;
  void** values_ = nullptr;
  std::vector<std::int32_t> codes_;
  std::vector<std::uint64_t> wire_values_;
  std::vector<unsigned> program_index_;  // of each code sent
  bool has_outputs_ = false;
};

}  // namespace gpupool::client
