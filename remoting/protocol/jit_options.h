// JIT options (CUjit_option, cuda.h) on the wire: which ones travel and how. Shared by the client,
// which splits a program's options, and the server, which accepts only what may travel. Codes are
// CUjit_option's values from cuda.h (this layer has no CUDA headers; the client and the server
// static_assert that they match, jit_options_check.h).
//
//   kValue     the option's value is a number stored in its void* slot: sent as u64, passed on.
//   kOutput    a number the driver also writes back into the slot (THREADS_PER_BLOCK, WALL_TIME, the
//              log sizes): sent, and the slot's value after the call comes back.
//   kLogBuffer a pointer to the program's log buffer: never sent; the server links into a buffer of
//              its own, of the size the *_SIZE_BYTES option asks for (capped at kMaxJitLogBytes), and
//              the client copies the log into the program's buffer.
//   kRefused   pointer arrays (global symbol tables, referenced names): not forwarded.
//   kUnknown   not a CUjit_option: CUDA_ERROR_INVALID_VALUE.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "remoting/protocol/frame.h"

namespace gpupool::protocol {

enum class JitOptionKind { kValue, kOutput, kLogBuffer, kRefused, kUnknown };

// CUjit_option codes the rules below name.
inline constexpr std::int32_t kJitThreadsPerBlock = 1;
inline constexpr std::int32_t kJitWallTime = 2;
inline constexpr std::int32_t kJitInfoLogBuffer = 3;
inline constexpr std::int32_t kJitInfoLogBufferSizeBytes = 4;
inline constexpr std::int32_t kJitErrorLogBuffer = 5;
inline constexpr std::int32_t kJitErrorLogBufferSizeBytes = 6;
inline constexpr std::int32_t kJitNumOptions = 35;  // CU_JIT_NUM_OPTIONS
// CUjitInputType: CUBIN 0 .. NVVM 5, CU_JIT_NUM_INPUT_TYPES 6.
inline constexpr std::int32_t kJitNumInputTypes = 6;

// A link or load carries at most this many options, and a link at most this many inputs.
inline constexpr std::size_t kMaxJitOptions = 64;
inline constexpr std::size_t kMaxLinkInputs = 1024;
// A log travels as a str: at most this many bytes, its terminating NUL included.
inline constexpr std::size_t kMaxJitLogBytes = kMaxStringBytes;

constexpr JitOptionKind JitOptionKindOf(std::int32_t option) {
  switch (option) {
    case kJitThreadsPerBlock:
    case kJitWallTime:
    case kJitInfoLogBufferSizeBytes:
    case kJitErrorLogBufferSizeBytes: return JitOptionKind::kOutput;
    case kJitInfoLogBuffer:
    case kJitErrorLogBuffer: return JitOptionKind::kLogBuffer;
    case 17:  // CU_JIT_GLOBAL_SYMBOL_NAMES
    case 18:  // CU_JIT_GLOBAL_SYMBOL_ADDRESSES
    case 19:  // CU_JIT_GLOBAL_SYMBOL_COUNT
    case 25:  // CU_JIT_REFERENCED_KERNEL_NAMES
    case 26:  // CU_JIT_REFERENCED_KERNEL_COUNT
    case 27:  // CU_JIT_REFERENCED_VARIABLE_NAMES
    case 28:  // CU_JIT_REFERENCED_VARIABLE_COUNT
      return JitOptionKind::kRefused;
    default: return option >= 0 && option < kJitNumOptions ? JitOptionKind::kValue : JitOptionKind::kUnknown;
  }
}

// Whether `option` may be sent to the server (its slot holds a number, not a pointer).
constexpr bool JitOptionTravels(std::int32_t option) {
  JitOptionKind kind = JitOptionKindOf(option);
  return kind == JitOptionKind::kValue || kind == JitOptionKind::kOutput;
}

}  // namespace gpupool::protocol
