// JIT linking (cuLinkCreate/AddData/Complete/Destroy) on the emulated device, done for real by
// nvJitLink (nvjitlink.h) for the emulated GPU's architecture (sm_90, image.h), so the linked cubin
// loads and its kernels' parameter layouts are read like any other. nvJitLink's logs become the
// link's info and error logs (protocol/jit_logs.h). JIT options that steer code generation are
// passed on where nvJitLink has the same option; the rest only tune and are accepted.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "remoting/protocol/jit_logs.h"
#include "remoting/server/emulated/api.h"
#include "remoting/server/emulated/image.h"
#include "remoting/server/emulated/nvjitlink.h"

namespace gpupool::server::emulated {
namespace {

struct Link {
  nvJitLinkHandle handle = nullptr;
  // The creator's option arrays: the driver writes the outputs into them at completion, so they
  // must stay valid for the link's life (as cuda.h says of cuLinkCreate).
  unsigned count = 0;
  CUjit_option* options = nullptr;
  void** values = nullptr;
  std::vector<char> cubin;
  double wall_ms = 0;
};

// Link states by handle; separate from the device state (a link touches no device object).
std::mutex links_mu;
std::map<CUlinkState, std::unique_ptr<Link>> links;

Link* FindLink(CUlinkState state) {
  auto it = links.find(state);
  return it == links.end() ? nullptr : it->second.get();
}

// nvJitLink's options for the creator's: the architecture, and the code-generation options with an
// nvJitLink counterpart.
std::vector<std::string> LinkerOptions(unsigned count, const CUjit_option* options, void* const* values) {
  std::vector<std::string> out = {"-arch=sm_" + std::to_string(kEmulatedArch)};
  for (unsigned i = 0; i < count; ++i) {
    const auto value = static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(values[i]));
    switch (options[i]) {
      case CU_JIT_MAX_REGISTERS: out.push_back("-maxrregcount=" + std::to_string(value)); break;
      case CU_JIT_OPTIMIZATION_LEVEL: out.push_back("-O" + std::to_string(value)); break;
      case CU_JIT_GENERATE_DEBUG_INFO:
        if (value != 0) out.push_back("-g");
        break;
      case CU_JIT_GENERATE_LINE_INFO:
        if (value != 0) out.push_back("-lineinfo");
        break;
      case CU_JIT_LOG_VERBOSE:
        if (value != 0) out.push_back("-verbose");
        break;
      case CU_JIT_LTO:
        if (value != 0) out.push_back("-lto");
        break;
      case CU_JIT_FTZ: out.push_back(value != 0 ? "-ftz=true" : "-ftz=false"); break;
      case CU_JIT_PREC_DIV: out.push_back(value != 0 ? "-prec-div=true" : "-prec-div=false"); break;
      case CU_JIT_PREC_SQRT: out.push_back(value != 0 ? "-prec-sqrt=true" : "-prec-sqrt=false"); break;
      case CU_JIT_FMA: out.push_back(value != 0 ? "-fma=true" : "-fma=false"); break;
      default: break;
    }
  }
  return out;
}

// The CUresult the driver gives for what nvJitLink reports.
CUresult ResultOf(nvJitLinkResult r) {
  switch (r) {
    case NVJITLINK_SUCCESS: return CUDA_SUCCESS;
    case NVJITLINK_ERROR_PTX_COMPILE: return CUDA_ERROR_INVALID_PTX;
    case NVJITLINK_ERROR_UNRECOGNIZED_OPTION:
    case NVJITLINK_ERROR_INCOMPATIBLE_OPTIONS: return CUDA_ERROR_INVALID_VALUE;
    case NVJITLINK_ERROR_ARCH_MISMATCH:
    case NVJITLINK_ERROR_MISSING_ARCH:
    case NVJITLINK_ERROR_UNRECOGNIZED_ARCH:
    case NVJITLINK_ERROR_UNSUPPORTED_ARCH: return CUDA_ERROR_NO_BINARY_FOR_GPU;
    case NVJITLINK_ERROR_OUTDATED_LIBRARY: return CUDA_ERROR_UNSUPPORTED_PTX_VERSION;
    case NVJITLINK_ERROR_INTERNAL:
    case NVJITLINK_ERROR_THREADPOOL: return CUDA_ERROR_UNKNOWN;
    default: return CUDA_ERROR_INVALID_IMAGE;  // unrecognised, invalid or mistyped input, NVVM, finalize
  }
}

nvJitLinkInputType InputTypeOf(CUjitInputType type) {
  switch (type) {
    case CU_JIT_INPUT_CUBIN: return NVJITLINK_INPUT_CUBIN;
    case CU_JIT_INPUT_PTX: return NVJITLINK_INPUT_PTX;
    case CU_JIT_INPUT_FATBINARY: return NVJITLINK_INPUT_FATBIN;
    case CU_JIT_INPUT_OBJECT: return NVJITLINK_INPUT_OBJECT;
    case CU_JIT_INPUT_LIBRARY: return NVJITLINK_INPUT_LIBRARY;
    case CU_JIT_INPUT_NVVM: return NVJITLINK_INPUT_LTOIR;
    default: return NVJITLINK_INPUT_NONE;
  }
}

std::string LogOf(const NvJitLinkApi& api, nvJitLinkHandle handle, bool info) {
  std::size_t size = 0;
  if ((info ? api.info_log_size : api.error_log_size)(handle, &size) != NVJITLINK_SUCCESS || size == 0)
    return {};
  std::string log(size, '\0');
  if ((info ? api.info_log : api.error_log)(handle, log.data()) != NVJITLINK_SUCCESS) return {};
  log.resize(strnlen(log.data(), log.size()));
  return log;
}

// Writes nvJitLink's logs (or `error` when given) and the time spent into the creator's outputs.
void WriteOutputs(const NvJitLinkApi& api, Link& link, const std::string& error = {}) {
  protocol::WriteJitOutputs(link.count, link.options, link.values, LogOf(api, link.handle, true),
                            error.empty() ? LogOf(api, link.handle, false) : error,
                            static_cast<float>(link.wall_ms));
}

CUresult LinkCreate(unsigned count, CUjit_option* options, void** values, CUlinkState* out) {
  {
    GPUPOOL_CURRENT_CONTEXT(ctx);  // the driver links for the current context's device
    (void)ctx;
  }
  if (out == nullptr || (count > 0 && (options == nullptr || values == nullptr)))
    return CUDA_ERROR_INVALID_VALUE;
  std::string why;
  const NvJitLinkApi* api = NvJitLink(&why);
  if (api == nullptr) {
    protocol::WriteJitOutputs(count, options, values, {}, why, 0);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  auto link = std::make_unique<Link>();
  link->count = count;
  link->options = options;
  link->values = values;
  std::vector<std::string> strings = LinkerOptions(count, options, values);
  std::vector<const char*> argv;
  for (const std::string& s : strings) argv.push_back(s.c_str());
  if (nvJitLinkResult r = api->create(&link->handle, static_cast<std::uint32_t>(argv.size()), argv.data());
      r != NVJITLINK_SUCCESS) {
    protocol::WriteJitOutputs(count, options, values, {}, "nvJitLinkCreate failed for these options", 0);
    if (link->handle != nullptr) api->destroy(&link->handle);
    return ResultOf(r);
  }
  std::lock_guard<std::mutex> lock(links_mu);
  auto* state = reinterpret_cast<CUlinkState>(link.get());
  links.emplace(state, std::move(link));
  *out = state;
  return CUDA_SUCCESS;
}

// Runs one nvJitLink step on `state`, timing it and writing the logs after a failure.
template <typename Step>
CUresult LinkStep(CUlinkState state, Step step) {
  std::string why;
  const NvJitLinkApi* api = NvJitLink(&why);
  std::lock_guard<std::mutex> lock(links_mu);
  Link* link = FindLink(state);
  if (link == nullptr || api == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  const auto start = std::chrono::steady_clock::now();
  nvJitLinkResult r = step(*api, *link);
  link->wall_ms +=
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (r != NVJITLINK_SUCCESS) WriteOutputs(*api, *link);
  return ResultOf(r);
}

CUresult LinkAddData(CUlinkState state, CUjitInputType type, void* data, size_t size, const char* name,
                     unsigned count, CUjit_option* options, void** values) {
  if (data == nullptr || size == 0 || (count > 0 && (options == nullptr || values == nullptr)))
    return CUDA_ERROR_INVALID_VALUE;
  const nvJitLinkInputType input = InputTypeOf(type);
  if (input == NVJITLINK_INPUT_NONE) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = LinkStep(state, [&](const NvJitLinkApi& api, Link& link) {
    return api.add_data(link.handle, input, data, size, name != nullptr ? name : "");
  });
  // PTX that is not PTX at all is, for the driver, invalid PTX rather than an invalid image.
  return r == CUDA_ERROR_INVALID_IMAGE && type == CU_JIT_INPUT_PTX ? CUDA_ERROR_INVALID_PTX : r;
}

CUresult LinkComplete(CUlinkState state, void** cubin, size_t* size) {
  if (cubin == nullptr || size == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = LinkStep(state, [&](const NvJitLinkApi& api, Link& link) {
    nvJitLinkResult done = api.complete(link.handle);
    std::size_t n = 0;
    if (done == NVJITLINK_SUCCESS) done = api.cubin_size(link.handle, &n);
    if (done == NVJITLINK_SUCCESS) {
      link.cubin.assign(n, 0);
      done = api.cubin(link.handle, link.cubin.data());
    }
    return done;
  });
  if (r != CUDA_SUCCESS) return r;
  std::string why;
  const NvJitLinkApi* api = NvJitLink(&why);
  std::lock_guard<std::mutex> lock(links_mu);
  Link* link = FindLink(state);
  if (link == nullptr) return CUDA_ERROR_INVALID_HANDLE;  // destroyed by another thread meanwhile
  WriteOutputs(*api, *link);
  *cubin = link->cubin.data();
  *size = link->cubin.size();
  return CUDA_SUCCESS;
}

CUresult LinkDestroy(CUlinkState state) {
  std::string why;
  const NvJitLinkApi* api = NvJitLink(&why);
  std::lock_guard<std::mutex> lock(links_mu);
  auto it = links.find(state);
  if (it == links.end() || api == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  api->destroy(&it->second->handle);
  links.erase(it);
  return CUDA_SUCCESS;
}

}  // namespace

void FillLinkApi(DriverApi& api) {
  api.cuLinkCreate_v2 = LinkCreate;
  api.cuLinkAddData_v2 = LinkAddData;
  api.cuLinkComplete = LinkComplete;
  api.cuLinkDestroy = LinkDestroy;
}

}  // namespace gpupool::server::emulated
