// Launch limits of the emulated H200 and per-function resource rules, shared by function
// attributes, launch validation and occupancy.
//
// Thread-safety: pure functions over a Function the caller keeps alive (state lock held).
#pragma once

#include "remoting/server/emulated/state.h"

namespace gpupool::server::emulated {

inline constexpr int kMaxThreadsPerBlock = 1024;
inline constexpr int kDefaultSharedPerBlock = 49152;  // without opting in
inline constexpr int kMaxSharedPerBlockOptin = 232448;
inline constexpr int kSharedPerSm = 233472;
inline constexpr int kRegistersPerSm = 65536;
inline constexpr int kMaxThreadsPerSm = 2048;
inline constexpr int kMaxBlocksPerSm = 32;
inline constexpr int kSmCount = 132;
inline constexpr int kPortableClusterSize = 8;
inline constexpr int kMaxClusterSize = 16;

// Registers per thread: the cubin's count, or a typical 32 for PTX-only kernels.
inline int Registers(const Function& f) {
  return f.info->num_regs ? static_cast<int>(f.info->num_regs) : 32;
}
// Dynamic shared memory a launch may use without failing (the attribute, default 48 KiB - static).
inline int MaxDynamicShared(const Function& f) {
  return f.max_dynamic_shared >= 0 ? f.max_dynamic_shared
                                   : kDefaultSharedPerBlock - static_cast<int>(f.info->shared_bytes);
}
int MaxThreadsForFunction(const Function& f);
// Resident blocks per SM for a block size and dynamic shared memory (0 if it cannot run).
int ActiveBlocksPerSm(const Function& f, int block_threads, std::size_t dynamic_shared);

}  // namespace gpupool::server::emulated
