#include "remoting/client/jit_options.h"

#include <cstring>

#include "common/log.h"
#include "remoting/protocol/jit_logs.h"
#include "remoting/protocol/jit_options_check.h"

namespace gpupool::client {

using protocol::JitOptionKind;

CUresult JitOptions::Parse(unsigned count, CUjit_option* options, void** values) {
  if (count > 0 && (options == nullptr || values == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  if (count > protocol::kMaxJitOptions) return CUDA_ERROR_INVALID_VALUE;
  count_ = count;
  options_ = options;
  values_ = values;
  for (unsigned i = 0; i < count; ++i) {
    const auto code = static_cast<std::int32_t>(options[i]);
    switch (protocol::JitOptionKindOf(code)) {
      case JitOptionKind::kUnknown: return CUDA_ERROR_INVALID_VALUE;
      case JitOptionKind::kRefused:
        GPUPOOL_LOG_ONCE(kWarn, "jit symbol options")
            << "JIT options with symbol or name arrays (CU_JIT_GLOBAL_SYMBOL_*, CU_JIT_REFERENCED_*) are not "
               "supported";
        return CUDA_ERROR_NOT_SUPPORTED;
      case JitOptionKind::kLogBuffer:
        has_outputs_ = true;  // filled here from the reply
        break;
      case JitOptionKind::kOutput: has_outputs_ = true; [[fallthrough]];
      case JitOptionKind::kValue:
        codes_.push_back(code);
        wire_values_.push_back(reinterpret_cast<std::uintptr_t>(values[i]));
        program_index_.push_back(i);
        break;
    }
  }
  return CUDA_SUCCESS;
}

bool JitOptions::Fill(const std::vector<std::uint64_t>& after, const std::string& info,
                      const std::string& error) const {
  if (after.size() != codes_.size()) return false;
  float wall_ms = 0;
  for (std::size_t j = 0; j < codes_.size(); ++j) {
    if (codes_[j] == CU_JIT_THREADS_PER_BLOCK)
      values_[program_index_[j]] = reinterpret_cast<void*>(static_cast<std::uintptr_t>(after[j]));
    // The driver stores the float in the slot's first bytes; the server sent the slot as it was.
    if (codes_[j] == CU_JIT_WALL_TIME) std::memcpy(&wall_ms, &after[j], sizeof wall_ms);
  }
  protocol::WriteJitOutputs(count_, options_, values_, info, error, wall_ms);
  return true;
}

}  // namespace gpupool::client
