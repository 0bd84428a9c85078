#include "remoting/server/launch_attributes.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace gpupool::server {

CUresult DecodeLaunchAttributes(const Session& s, const std::string& raw,
                                std::vector<CUlaunchAttribute>* attrs) {
  if (raw.size() % sizeof(CUlaunchAttribute) != 0) return CUDA_ERROR_INVALID_VALUE;
  attrs->assign(raw.size() / sizeof(CUlaunchAttribute), CUlaunchAttribute{});
  static_assert(sizeof(CUlaunchAttributeID) == sizeof(std::uint32_t));
  for (std::size_t i = 0; i < attrs->size(); ++i) {  // ids checked as integers before they become enums
    std::uint32_t id = 0;
    std::memcpy(&id, raw.data() + i * sizeof(CUlaunchAttribute) + offsetof(CUlaunchAttribute, id), sizeof id);
    if (id > CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING)
      return CUDA_ERROR_INVALID_VALUE;  // CUDA 13's last
  }
  if (!attrs->empty()) std::memcpy(static_cast<void*>(attrs->data()), raw.data(), raw.size());
  for (CUlaunchAttribute& a : *attrs) {
    CUevent* event = nullptr;
    if (a.id == CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT) event = &a.value.programmaticEvent.event;
    if (a.id == CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT) event = &a.value.launchCompletionEvent.event;
    if (event != nullptr) {
      if (CUresult r = s.Event(reinterpret_cast<std::uint64_t>(*event), event); r != CUDA_SUCCESS) return r;
    }
  }
  return CUDA_SUCCESS;
}

CUlaunchConfig LaunchConfig(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                            unsigned shared, CUstream stream, std::vector<CUlaunchAttribute>& attrs) {
  CUlaunchConfig config{};
  config.gridDimX = gx;
  config.gridDimY = gy;
  config.gridDimZ = gz;
  config.blockDimX = bx;
  config.blockDimY = by;
  config.blockDimZ = bz;
  config.sharedMemBytes = shared;
  config.hStream = stream;
  config.attrs = attrs.data();
  config.numAttrs = static_cast<unsigned>(attrs.size());
  return config;
}

}  // namespace gpupool::server
