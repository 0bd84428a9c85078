// Checks, where cuda.h is included (client and server), that jit_options.h's codes are cuda.h's.
#pragma once

#include <cuda.h>

#include "remoting/protocol/jit_options.h"

namespace gpupool::protocol {

static_assert(kJitThreadsPerBlock == CU_JIT_THREADS_PER_BLOCK && kJitWallTime == CU_JIT_WALL_TIME);
static_assert(kJitInfoLogBuffer == CU_JIT_INFO_LOG_BUFFER &&
              kJitInfoLogBufferSizeBytes == CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES);
static_assert(kJitErrorLogBuffer == CU_JIT_ERROR_LOG_BUFFER &&
              kJitErrorLogBufferSizeBytes == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES);
static_assert(kJitNumOptions == CU_JIT_NUM_OPTIONS && kJitNumInputTypes == CU_JIT_NUM_INPUT_TYPES);
static_assert(JitOptionKindOf(CU_JIT_GLOBAL_SYMBOL_NAMES) == JitOptionKind::kRefused &&
              JitOptionKindOf(CU_JIT_GLOBAL_SYMBOL_ADDRESSES) == JitOptionKind::kRefused &&
              JitOptionKindOf(CU_JIT_GLOBAL_SYMBOL_COUNT) == JitOptionKind::kRefused &&
              JitOptionKindOf(CU_JIT_REFERENCED_KERNEL_NAMES) == JitOptionKind::kRefused &&
              JitOptionKindOf(CU_JIT_REFERENCED_KERNEL_COUNT) == JitOptionKind::kRefused &&
              JitOptionKindOf(CU_JIT_REFERENCED_VARIABLE_NAMES) == JitOptionKind::kRefused &&
              JitOptionKindOf(CU_JIT_REFERENCED_VARIABLE_COUNT) == JitOptionKind::kRefused);

}  // namespace gpupool::protocol
