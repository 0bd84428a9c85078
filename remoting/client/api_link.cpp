// JIT linking: cuLinkCreate, cuLinkAddData, cuLinkAddFile, cuLinkComplete, cuLinkDestroy (and their
// pre-6.5 symbols, the same functions). The link state lives here (link_state.h); the link itself
// runs on the server at cuLinkComplete, so an input the linker rejects is reported there, with the
// error log, rather than at cuLinkAddData. Per-input JIT options are checked and not forwarded: the
// link's own options apply to every input.
#include "common/read_file.h"
#include "remoting/client/api_support.h"
#include "remoting/client/link_state.h"
#include "remoting/protocol/jit_options.h"

using namespace gpupool::client;

namespace {

CUresult CreateLink(unsigned count, CUjit_option* options, void** values, CUlinkState* out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  auto link = std::make_unique<LinkState>();
  GPUPOOL_CU_RETURN_IF_ERROR(link->options.Parse(count, options, values));
  *out = reinterpret_cast<CUlinkState>(LinkStates().Add(std::move(link)));
  return CUDA_SUCCESS;
}

CUresult AddInput(CUlinkState state, CUjitInputType type, std::string bytes, const char* name, unsigned count,
                  CUjit_option* options, void** values) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  LinkState* link = LinkStates().Find(state);
  if (link == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (static_cast<int>(type) < 0 || static_cast<int>(type) >= CU_JIT_NUM_INPUT_TYPES)
    return CUDA_ERROR_INVALID_VALUE;
  JitOptions input_options;
  GPUPOOL_CU_RETURN_IF_ERROR(input_options.Parse(count, options, values));
  std::lock_guard<std::mutex> lock(link->mu);
  if (link->inputs.size() >= gpupool::protocol::kMaxLinkInputs) return CUDA_ERROR_INVALID_VALUE;
  link->inputs.push_back({type, name != nullptr ? name : "", std::move(bytes)});
  return CUDA_SUCCESS;
}

}  // namespace

GPUPOOL_API CUresult cuLinkCreate_v2(unsigned int count, CUjit_option* options, void** values,
                                     CUlinkState* out) {
  return CreateLink(count, options, values, out);
}

#undef cuLinkCreate
GPUPOOL_API CUresult cuLinkCreate(unsigned int count, CUjit_option* options, void** values,
                                  CUlinkState* out) {
  return CreateLink(count, options, values, out);
}

GPUPOOL_API CUresult cuLinkAddData_v2(CUlinkState state, CUjitInputType type, void* data, size_t size,
                                      const char* name, unsigned int count, CUjit_option* options,
                                      void** values) {
  if (data == nullptr || size == 0) return CUDA_ERROR_INVALID_VALUE;
  return AddInput(state, type, std::string(static_cast<const char*>(data), size), name, count, options,
                  values);
}

#undef cuLinkAddData
GPUPOOL_API CUresult cuLinkAddData(CUlinkState state, CUjitInputType type, void* data, size_t size,
                                   const char* name, unsigned int count, CUjit_option* options,
                                   void** values) {
  return cuLinkAddData_v2(state, type, data, size, name, count, options, values);
}

// The file is read here, in the program's process, as the driver would.
GPUPOOL_API CUresult cuLinkAddFile_v2(CUlinkState state, CUjitInputType type, const char* path,
                                      unsigned int count, CUjit_option* options, void** values) {
  if (path == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  if (LinkStates().Find(state) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  auto file = gpupool::ReadTextFile(path);
  if (!file.ok()) return CUDA_ERROR_FILE_NOT_FOUND;
  std::string bytes = std::move(*file);
  if (type == CU_JIT_INPUT_PTX && (bytes.empty() || bytes.back() != '\0'))
    bytes.push_back('\0');  // PTX is text
  if (bytes.empty()) return CUDA_ERROR_INVALID_IMAGE;
  return AddInput(state, type, std::move(bytes), path, count, options, values);
}

#undef cuLinkAddFile
GPUPOOL_API CUresult cuLinkAddFile(CUlinkState state, CUjitInputType type, const char* path,
                                   unsigned int count, CUjit_option* options, void** values) {
  return cuLinkAddFile_v2(state, type, path, count, options, values);
}

GPUPOOL_API CUresult cuLinkComplete(CUlinkState state, void** cubin, size_t* size) {
  if (cubin == nullptr || size == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  LinkState* link = LinkStates().Find(state);
  if (link == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  std::lock_guard<std::mutex> lock(link->mu);
  link->image.clear();
  GPUPOOL_CU_RETURN_IF_ERROR(CompleteLink(*link, context));
  *cubin = link->image.data();
  *size = link->image.size();
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuLinkDestroy(CUlinkState state) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  LinkState* link = LinkStates().Find(state);
  if (link == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  {
    std::lock_guard<std::mutex> lock(link->mu);  // a completion running on another thread ends first
    link->inputs = {};
    link->image = {};
  }
  (void)LinkStates().Retire(state);  // the handle stays invalid, never reused
  return CUDA_SUCCESS;
}
