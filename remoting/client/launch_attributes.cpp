#include "remoting/client/launch_attributes.h"

#include <cstring>
#include <vector>

#include "remoting/client/state.h"

namespace gpupool::client {

CUresult EncodeLaunchAttributes(const CUlaunchConfig* config, std::string* raw) {
  if (config->numAttrs > 0 && config->attrs == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUlaunchAttribute> attrs(config->attrs, config->attrs + config->numAttrs);
  for (CUlaunchAttribute& a : attrs) {
    CUevent* event = nullptr;
    if (a.id == CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT) event = &a.value.programmaticEvent.event;
    if (a.id == CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT) event = &a.value.launchCompletionEvent.event;
    if (event == nullptr) continue;
    Event* e = State::Get().events.Find(*event);
    if (e == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    std::uint64_t id = e->id;
    std::memcpy(static_cast<void*>(event), &id, sizeof id);
  }
  raw->assign(reinterpret_cast<const char*>(attrs.data()), attrs.size() * sizeof(CUlaunchAttribute));
  return CUDA_SUCCESS;
}

}  // namespace gpupool::client
