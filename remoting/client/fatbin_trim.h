// A fatbin trimmed to what the session's GPUs can run, before it crosses the network.
//
// NVIDIA's libraries ship fatbins with a cubin per architecture (cublasLt 13: sm_75 to sm_121) and
// PTX for the newest; an H200 (sm_90) can run only the sm_90 cubins and PTX up to compute_90. The
// client sends each image the program uses, so sending whole fatbins moves several times the bytes
// the GPU will ever read (bench/results/fatbin-trim.md). Dropped, and only these:
//   - a cubin (ELF entry) whose major architecture differs from every GPU's, or whose minor is
//     above it (SASS runs only on the same major, same or later minor);
//   - PTX whose architecture is above every GPU's (it cannot be compiled for an older one).
// Entries of other kinds, and everything a GPU might use, stay byte for byte, in their order.
//
// The layout read: remoting/protocol/fatbin_format.h.
//
// Thread-safety: pure function.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

namespace gpupool::client {

struct GpuArch {
  int major = 0;
  int minor = 0;
};

// The container at `data` (`size` bytes, a whole container) without the entries none of `gpus` can
// use; nullopt when it is kept as it is: nothing to drop, nothing usable would be left (the driver
// then reports the missing binary as it would natively), no GPUs given, or a container this code
// does not understand (the server checks images strictly).
std::optional<std::string> TrimFatbin(const void* data, std::size_t size, std::span<const GpuArch> gpus);

}  // namespace gpupool::client
