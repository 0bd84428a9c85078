// ModuleImage: what the emulated device knows about a loaded image: its kernels (names, parameter
// layouts, resource use) and its global variables. Filled by the cubin parser (cubin.h) or the PTX
// parser (ptx.h); image.h picks which from the bytes a module is loaded from.
//
// Thread-safety: plain values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gpupool::server::emulated {

struct ParamInfo {
  std::uint32_t offset = 0;  // bytes from the start of the parameter buffer
  std::uint32_t size = 0;
};

struct KernelInfo {
  std::string name;
  std::vector<ParamInfo> params;  // by ordinal
  std::uint32_t param_bytes = 0;  // the whole parameter buffer, padding included
  std::uint32_t shared_bytes = 0;
  std::uint32_t const_bytes = 0;
  std::uint32_t local_bytes = 0;
  std::uint32_t num_regs = 0;
  std::uint32_t max_threads = 1024;  // __launch_bounds__ / .maxntid when present
};

struct GlobalInfo {
  std::string name;
  std::size_t size = 0;
  std::vector<std::uint8_t> init;  // initial bytes; empty = zero-filled
};

struct ModuleImage {
  enum class Source { kCubin, kPtx };
  Source source = Source::kCubin;
  std::vector<KernelInfo> kernels;
  std::vector<GlobalInfo> globals;
};

}  // namespace gpupool::server::emulated
