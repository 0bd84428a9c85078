// Kernel launches: validated as the driver does, then recorded (one JSON line per launch in
// --record-launches), never executed; each keeps its stream and device busy for
// --emulated-kernel-time (timeline.h).
#include <algorithm>
#include <cstring>
#include <vector>

#include "remoting/server/emulated/api.h"
#include "remoting/server/emulated/device_printf.h"
#include "remoting/server/emulated/launch_limits.h"
#include "remoting/server/emulated/launch_record.h"
#include "remoting/server/emulated/timeline.h"

namespace gpupool::server::emulated {
namespace {

constexpr unsigned kMaxGridX = 2147483647u;
constexpr unsigned kMaxGridYZ = 65535u;
constexpr unsigned kMaxBlockXY = 1024u;
constexpr unsigned kMaxBlockZ = 64u;
constexpr int kMaxExtraEntries = 64;  // a well-formed `extra` has at most a handful of pairs

// Packs the parameter buffer from kernelParams (one pointer per parameter) or from `extra`
// (CU_LAUNCH_PARAM_BUFFER_POINTER / _SIZE / _END).
CUresult PackParams(const KernelInfo& k, void** params, void** extra, std::vector<std::uint8_t>* out) {
  out->assign(k.param_bytes, 0);
  if (params != nullptr && extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (params != nullptr) {
    for (std::size_t i = 0; i < k.params.size(); ++i) {
      if (params[i] == nullptr) return CUDA_ERROR_INVALID_VALUE;
      std::memcpy(out->data() + k.params[i].offset, params[i], k.params[i].size);
    }
    return CUDA_SUCCESS;
  }
  if (extra == nullptr) return k.param_bytes == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
  const void* buffer = nullptr;
  const std::size_t* size = nullptr;
  for (int i = 0;; i += 2) {
    if (i >= kMaxExtraEntries) return CUDA_ERROR_INVALID_VALUE;
    if (extra[i] == CU_LAUNCH_PARAM_END) break;
    if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) {
      buffer = extra[i + 1];
    } else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE) {
      size = static_cast<const std::size_t*>(extra[i + 1]);
    } else {
      return CUDA_ERROR_INVALID_VALUE;
    }
  }
  if (k.param_bytes == 0) return CUDA_SUCCESS;
  if (buffer == nullptr || size == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // A buffer shorter than the parameters is accepted, as the driver does (NCCL passes only the used
  // part of its 4 KiB argument structure); the rest stays zero.
  std::memcpy(out->data(), buffer, std::min<std::size_t>(*size, k.param_bytes));
  return CUDA_SUCCESS;
}

CUresult CheckCluster(const Function& f, const LaunchRecord& r) {
  const unsigned size = r.cluster[0] * r.cluster[1] * r.cluster[2];
  const unsigned limit = f.non_portable_cluster ? kMaxClusterSize : kPortableClusterSize;
  if (size == 0 || size > limit) return CUDA_ERROR_INVALID_CLUSTER_SIZE;
  for (int i = 0; i < 3; ++i) {
    if (r.grid[i] % r.cluster[i] != 0) return CUDA_ERROR_INVALID_CLUSTER_SIZE;
  }
  return CUDA_SUCCESS;
}

CUresult Launch(CUfunction handle, LaunchRecord& r, CUstream stream, void** params, void** extra) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  Function* f = LookupFunction(handle);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (!f->module->owned_by_library && f->module->ctx != ctx) return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult res = CheckStream(stream); res != CUDA_SUCCESS) return res;
  for (int i = 0; i < 3; ++i) {
    if (r.grid[i] == 0 || r.block[i] == 0) return CUDA_ERROR_INVALID_VALUE;
  }
  if (r.grid[0] > kMaxGridX || r.grid[1] > kMaxGridYZ || r.grid[2] > kMaxGridYZ)
    return CUDA_ERROR_INVALID_VALUE;
  if (r.block[0] > kMaxBlockXY || r.block[1] > kMaxBlockXY || r.block[2] > kMaxBlockZ)
    return CUDA_ERROR_INVALID_VALUE;
  const std::uint64_t threads = std::uint64_t{r.block[0]} * r.block[1] * r.block[2];
  if (threads > kMaxThreadsPerBlock) return CUDA_ERROR_INVALID_VALUE;
  if (threads > static_cast<std::uint64_t>(MaxThreadsForFunction(*f)))
    return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
  if (r.shared > static_cast<unsigned>(MaxDynamicShared(*f))) return CUDA_ERROR_INVALID_VALUE;
  if (r.has_cluster) {
    if (CUresult res = CheckCluster(*f, r); res != CUDA_SUCCESS) return res;
  }
  if (r.cooperative) {
    const std::uint64_t blocks = std::uint64_t{r.grid[0]} * r.grid[1] * r.grid[2];
    const int per_sm = ActiveBlocksPerSm(*f, static_cast<int>(threads), r.shared);
    if (blocks > static_cast<std::uint64_t>(per_sm) * ctx->sm_count)
      return CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE;
  }
  if (CUresult res = PackParams(*f->info, params, extra, &r.params); res != CUDA_SUCCESS) return res;
  r.kernel = &f->info->name;
  r.stream_id = StreamId(stream);
  RecordLaunch(r);
  QueuePrintf(ctx, *f);
  Enqueue(ctx, stream, GetState().config.kernel_time_ns, /*kernel=*/true);
  return CUDA_SUCCESS;
}

LaunchRecord Dims(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                  unsigned shared) {
  LaunchRecord r;
  r.grid = {gx, gy, gz};
  r.block = {bx, by, bz};
  r.shared = shared;
  return r;
}

CUresult LaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                      unsigned bz, unsigned shared, CUstream stream, void** params, void** extra) {
  LaunchRecord r = Dims(gx, gy, gz, bx, by, bz, shared);
  return Launch(f, r, stream, params, extra);
}

CUresult LaunchCooperativeKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                 unsigned by, unsigned bz, unsigned shared, CUstream stream, void** params) {
  LaunchRecord r = Dims(gx, gy, gz, bx, by, bz, shared);
  r.cooperative = true;
  return Launch(f, r, stream, params, nullptr);
}

CUresult LaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** params, void** extra) {
  if (config == nullptr || (config->numAttrs > 0 && config->attrs == nullptr))
    return CUDA_ERROR_INVALID_VALUE;
  LaunchRecord r = Dims(config->gridDimX, config->gridDimY, config->gridDimZ, config->blockDimX,
                        config->blockDimY, config->blockDimZ, config->sharedMemBytes);
  for (unsigned i = 0; i < config->numAttrs; ++i) {
    const CUlaunchAttribute& a = config->attrs[i];
    r.attributes.push_back(static_cast<int>(a.id));
    if (a.id == CU_LAUNCH_ATTRIBUTE_COOPERATIVE) {
      r.cooperative = a.value.cooperative != 0;
    } else if (a.id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION) {
      r.has_cluster = true;
      r.cluster = {a.value.clusterDim.x, a.value.clusterDim.y, a.value.clusterDim.z};
    }
  }
  return Launch(f, r, config->hStream, params, extra);
}

}  // namespace

void FillLaunchApi(DriverApi& api) {
  api.cuLaunchKernel = LaunchKernel;
  api.cuLaunchKernelEx = LaunchKernelEx;
  api.cuLaunchCooperativeKernel = LaunchCooperativeKernel;
}

}  // namespace gpupool::server::emulated
