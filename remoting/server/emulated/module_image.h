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
  // Device printf (cubins only): whether the kernel calls vprintf, directly or through device
  // functions (.nv.callgraph), and the module's printf-style string literals ($str, $str$1, ... in
  // .nv.global.init, in source order). Which of them the kernel passes is in its machine code, which
  // the emulated device does not read, so every kernel that prints gets the module's list.
  bool calls_printf = false;
  std::vector<std::string> printf_formats;
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
