// Handlers: kernels, functions and occupancy queries. Parameter layouts come from the driver
// (cuFuncGetParamInfo / cuKernelGetParamInfo), so the client never guesses them.
#include "remoting/server/dispatch.h"
#include "remoting/server/launch_attributes.h"

namespace gpupool::server {
namespace {

// The module or library a kernel or function id belongs to (0 when none is recorded).
std::uint64_t ParentOf(const Session& s, std::uint64_t child) {
  for (const auto& [parent, id] : s.children) {
    if (id == child) return parent;
  }
  return 0;
}

std::uint64_t AddFunction(Session& s, std::uint64_t sibling, CUfunction f) {
  std::uint64_t id = s.functions.Add(f);
  if (std::uint64_t parent = ParentOf(s, sibling); parent != 0) s.children.emplace(parent, id);
  return id;
}

}  // namespace

GPUPOOL_HANDLER(KernelGetFunction) {
  CUkernel kernel = nullptr;
  if (CUresult r = s.Kernel(std::get<0>(in), &kernel); r != CUDA_SUCCESS) return r;
  CUfunction f = nullptr;
  CUresult r = GPUPOOL_DRIVER(s, cuKernelGetFunction, &f, kernel);
  if (r == CUDA_SUCCESS) std::get<0>(*out) = AddFunction(s, std::get<0>(in), f);
  return r;
}

GPUPOOL_HANDLER(KernelGetAttribute) {
  const auto& [attrib, kernel_id, dev] = in;
  CUkernel kernel = nullptr;
  if (CUresult r = s.Kernel(kernel_id, &kernel); r != CUDA_SUCCESS) return r;
  CUfunction_attribute a{};
  if (CUresult r = ClientEnum(attrib, 0, CU_FUNC_ATTRIBUTE_MAX, &a); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuKernelGetAttribute, &std::get<0>(*out), a, kernel, dev);
}

GPUPOOL_HANDLER(KernelSetAttribute) {
  const auto& [attrib, value, kernel_id, dev] = in;
  CUkernel kernel = nullptr;
  if (CUresult r = s.Kernel(kernel_id, &kernel); r != CUDA_SUCCESS) return r;
  CUfunction_attribute a{};
  if (CUresult r = ClientEnum(attrib, 0, CU_FUNC_ATTRIBUTE_MAX, &a); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuKernelSetAttribute, a, value, kernel, dev);
}

GPUPOOL_HANDLER(KernelGetName) {
  CUkernel kernel = nullptr;
  if (CUresult r = s.Kernel(std::get<0>(in), &kernel); r != CUDA_SUCCESS) return r;
  const char* name = nullptr;
  CUresult r = GPUPOOL_DRIVER(s, cuKernelGetName, &name, kernel);
  if (r == CUDA_SUCCESS && name != nullptr) std::get<0>(*out) = name;
  return r;
}

GPUPOOL_HANDLER(KernelGetParamLayout) {
  CUkernel kernel = nullptr;
  if (CUresult r = s.Kernel(std::get<0>(in), &kernel); r != CUDA_SUCCESS) return r;
  auto& [offsets, sizes] = *out;
  for (std::size_t i = 0; i < protocol::kMaxListItems; ++i) {
    std::size_t offset = 0, size = 0;
    CUresult r = GPUPOOL_DRIVER(s, cuKernelGetParamInfo, kernel, i, &offset, &size);
    if (r == CUDA_ERROR_INVALID_VALUE) break;  // past the last parameter
    if (r != CUDA_SUCCESS) return r;
    offsets.push_back(offset);
    sizes.push_back(size);
  }
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(FuncGetAttribute) {
  CUfunction f = nullptr;
  if (CUresult r = s.Function(std::get<1>(in), &f); r != CUDA_SUCCESS) return r;
  CUfunction_attribute a{};
  if (CUresult r = ClientEnum(std::get<0>(in), 0, CU_FUNC_ATTRIBUTE_MAX, &a); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuFuncGetAttribute, &std::get<0>(*out), a, f);
}

GPUPOOL_HANDLER(FuncSetAttribute) {
  const auto& [function_id, attrib, value] = in;
  CUfunction f = nullptr;
  if (CUresult r = s.Function(function_id, &f); r != CUDA_SUCCESS) return r;
  CUfunction_attribute a{};
  if (CUresult r = ClientEnum(attrib, 0, CU_FUNC_ATTRIBUTE_MAX, &a); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuFuncSetAttribute, f, a, value);
}

GPUPOOL_HANDLER(FuncSetCacheConfig) {
  CUfunction f = nullptr;
  if (CUresult r = s.Function(std::get<0>(in), &f); r != CUDA_SUCCESS) return r;
  CUfunc_cache config{};
  if (CUresult r = ClientEnum(std::get<1>(in), 0, CU_FUNC_CACHE_PREFER_EQUAL + 1, &config); r != CUDA_SUCCESS)
    return r;
  return GPUPOOL_DRIVER(s, cuFuncSetCacheConfig, f, config);
}

GPUPOOL_HANDLER(FuncGetName) {
  CUfunction f = nullptr;
  if (CUresult r = s.Function(std::get<0>(in), &f); r != CUDA_SUCCESS) return r;
  const char* name = nullptr;
  CUresult r = GPUPOOL_DRIVER(s, cuFuncGetName, &name, f);
  if (r == CUDA_SUCCESS && name != nullptr) std::get<0>(*out) = name;
  return r;
}

GPUPOOL_HANDLER(FuncGetParamLayout) {
  CUfunction f = nullptr;
  if (CUresult r = s.Function(std::get<0>(in), &f); r != CUDA_SUCCESS) return r;
  const ParamLayout* layout = nullptr;
  if (CUresult r = s.Layout(f, &layout); r != CUDA_SUCCESS) return r;
  *out = {layout->offsets, layout->sizes};
  return CUDA_SUCCESS;
}

GPUPOOL_HANDLER(FuncGetModule) {
  CUfunction f = nullptr;
  if (CUresult r = s.Function(std::get<0>(in), &f); r != CUDA_SUCCESS) return r;
  CUmodule module = nullptr;
  CUresult r = GPUPOOL_DRIVER(s, cuFuncGetModule, &module, f);
  if (r == CUDA_SUCCESS) std::get<0>(*out) = s.modules.IdOf(module);
  return r;
}

GPUPOOL_HANDLER(FuncLoad) {
  CUfunction f = nullptr;
  if (CUresult r = s.Function(std::get<0>(in), &f); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuFuncLoad, f);
}

GPUPOOL_HANDLER(FuncIsLoaded) {
  CUfunction f = nullptr;
  if (CUresult r = s.Function(std::get<0>(in), &f); r != CUDA_SUCCESS) return r;
  CUfunctionLoadingState state = CU_FUNCTION_LOADING_STATE_UNLOADED;
  CUresult r = GPUPOOL_DRIVER(s, cuFuncIsLoaded, &state, f);
  std::get<0>(*out) = state;
  return r;
}

GPUPOOL_HANDLER(OccupancyMaxActiveBlocksPerMultiprocessor) {
  const auto& [function_id, block_size, dynamic_smem, flags] = in;
  CUfunction f = nullptr;
  if (CUresult r = s.Function(function_id, &f); r != CUDA_SUCCESS) return r;
  return GPUPOOL_DRIVER(s, cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags, &std::get<0>(*out), f,
                        block_size, dynamic_smem, flags);
}

GPUPOOL_HANDLER(OccupancyAvailableDynamicSMemPerBlock) {
  const auto& [function_id, blocks, block_size] = in;
  CUfunction f = nullptr;
  if (CUresult r = s.Function(function_id, &f); r != CUDA_SUCCESS) return r;
  std::size_t bytes = 0;
  CUresult r = GPUPOOL_DRIVER(s, cuOccupancyAvailableDynamicSMemPerBlock, &bytes, f, blocks, block_size);
  std::get<0>(*out) = bytes;
  return r;
}

GPUPOOL_HANDLER(OccupancyMaxActiveBlocksList) {
  const auto& [function_id, flags, block_sizes, dynamic_smem] = in;
  CUfunction f = nullptr;
  if (CUresult r = s.Function(function_id, &f); r != CUDA_SUCCESS) return r;
  if (block_sizes.size() != dynamic_smem.size()) return CUDA_ERROR_INVALID_VALUE;
  auto& blocks = std::get<0>(*out);
  blocks.assign(block_sizes.size(), 0);
  for (std::size_t i = 0; i < block_sizes.size(); ++i) {
    CUresult r = GPUPOOL_DRIVER(s, cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags, &blocks[i], f,
                                block_sizes[i], dynamic_smem[i], flags);
    if (r != CUDA_SUCCESS) return r;
  }
  return CUDA_SUCCESS;
}

namespace {

// The cluster occupancy queries: the function, then a launch configuration as LaunchKernelEx sends it.
template <typename Request, typename Query>
CUresult ClusterQuery(Session& s, const Request& in, Query query) {
  const auto& [function_id, gx, gy, gz, bx, by, bz, shared, stream_id, raw_attrs] = in;
  CUfunction f = nullptr;
  if (CUresult r = s.Function(function_id, &f); r != CUDA_SUCCESS) return r;
  CUstream stream = nullptr;
  if (CUresult r = s.Stream(stream_id, &stream); r != CUDA_SUCCESS) return r;
  std::vector<CUlaunchAttribute> attrs;
  if (CUresult r = DecodeLaunchAttributes(s, raw_attrs, &attrs); r != CUDA_SUCCESS) return r;
  const CUlaunchConfig config = LaunchConfig(gx, gy, gz, bx, by, bz, shared, stream, attrs);
  return query(f, &config);
}

}  // namespace

GPUPOOL_HANDLER(OccupancyMaxPotentialClusterSize) {
  return ClusterQuery(s, in, [&](CUfunction f, const CUlaunchConfig* config) {
    return GPUPOOL_DRIVER(s, cuOccupancyMaxPotentialClusterSize, &std::get<0>(*out), f, config);
  });
}

GPUPOOL_HANDLER(OccupancyMaxActiveClusters) {
  return ClusterQuery(s, in, [&](CUfunction f, const CUlaunchConfig* config) {
    return GPUPOOL_DRIVER(s, cuOccupancyMaxActiveClusters, &std::get<0>(*out), f, config);
  });
}

}  // namespace gpupool::server
