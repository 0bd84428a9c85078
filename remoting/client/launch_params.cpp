#include "remoting/client/launch_params.h"

#include <algorithm>
#include <cstring>

#include "remoting/protocol/frame.h"

namespace gpupool::client {
namespace {

CUresult FromExtra(void** extra, std::string* packed) {
  const void* buffer = nullptr;
  const std::size_t* size = nullptr;
  for (int i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
    if (i >= 64) return CUDA_ERROR_INVALID_VALUE;  // no END marker in sight: malformed
    if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) {
      buffer = extra[i + 1];
    } else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE) {
      size = static_cast<const std::size_t*>(extra[i + 1]);
    } else {
      return CUDA_ERROR_INVALID_VALUE;
    }
  }
  if (buffer == nullptr || size == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (*size > protocol::kMaxKernelParamBytes) return CUDA_ERROR_INVALID_VALUE;
  packed->assign(static_cast<const char*>(buffer), *size);
  return CUDA_SUCCESS;
}

}  // namespace

CUresult PackParams(const std::vector<std::uint64_t>& offsets, const std::vector<std::uint64_t>& sizes,
                    void** kernel_params, void** extra, std::string* packed) {
  packed->clear();
  if (kernel_params != nullptr && extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (extra != nullptr) return FromExtra(extra, packed);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < offsets.size(); ++i) {
    if (offsets[i] > protocol::kMaxKernelParamBytes || sizes[i] > protocol::kMaxKernelParamBytes) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    total = std::max(total, offsets[i] + sizes[i]);
  }
  if (total > protocol::kMaxKernelParamBytes) return CUDA_ERROR_INVALID_VALUE;
  if (offsets.empty()) return CUDA_SUCCESS;
  if (kernel_params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  packed->assign(total, '\0');
  for (std::size_t i = 0; i < offsets.size(); ++i) {
    if (kernel_params[i] == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::memcpy(packed->data() + offsets[i], kernel_params[i], sizes[i]);
  }
  return CUDA_SUCCESS;
}

}  // namespace gpupool::client
