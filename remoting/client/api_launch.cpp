// Kernel launches: checked on the client against the device's cached limits (an invalid
// configuration fails at the call, as in CUDA), parameters packed at the cached layout's offsets,
// then sent without waiting; errors on the server are latched until the next synchronisation.
#include <cstring>
#include <vector>

#include "remoting/client/api_support.h"
#include "remoting/client/functions.h"
#include "remoting/client/launch_attributes.h"
#include "remoting/client/launch_check.h"
#include "remoting/client/launch_params.h"

using namespace gpupool::client;

namespace {

struct Prepared {
  std::uint64_t context = 0, function = 0, stream = 0;
  std::string params;
};

CUresult Prepare(CUfunction handle, const LaunchShape& shape, CUstream stream, bool per_thread,
                 void** kernel_params, void** extra, Prepared* out) {
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&out->context));
  Function* function = FindFunction(handle);
  if (function == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  Device* device = State::Get().device(State::Current()->device);
  if (device == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  GPUPOOL_CU_RETURN_IF_ERROR(CheckLaunch(device->limits, shape));
  GPUPOOL_CU_RETURN_IF_ERROR(StreamId(stream, per_thread, &out->stream));
  GPUPOOL_CU_RETURN_IF_ERROR(FunctionId(function, &out->function));
  if (extra == nullptr) GPUPOOL_CU_RETURN_IF_ERROR(FetchLayout(function));
  return PackParams(function->offsets, function->sizes, kernel_params, extra, &out->params);
}

// cuLaunchKernel, or cuLaunchCooperativeKernel (op LaunchCooperativeKernel: the server checks that the
// grid fits on the device at once, CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE).
template <Op op>
CUresult Launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                unsigned shared, CUstream stream, void** params, void** extra, bool per_thread) {
  const LaunchShape shape{{gx, gy, gz}, {bx, by, bz}, shared};
  Prepared p;
  GPUPOOL_CU_RETURN_IF_ERROR(Prepare(f, shape, stream, per_thread, params, extra, &p));
  auto send = [=](std::uint64_t on) {
    iovec tail{const_cast<char*>(p.params.data()), p.params.size()};
    return Rpc<op>(p.context, {p.function, gx, gy, gz, bx, by, bz, shared, on}, nullptr, Tail{&tail, 1});
  };
  return SubmitOp(CU_GRAPH_NODE_TYPE_KERNEL, stream, p.context, p.stream, send);
}

CUresult LaunchEx(const CUlaunchConfig* config, CUfunction f, void** params, void** extra, bool per_thread) {
  if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const LaunchShape shape{{config->gridDimX, config->gridDimY, config->gridDimZ},
                          {config->blockDimX, config->blockDimY, config->blockDimZ},
                          config->sharedMemBytes};
  Prepared p;
  GPUPOOL_CU_RETURN_IF_ERROR(Prepare(f, shape, config->hStream, per_thread, params, extra, &p));
  std::string attrs;
  GPUPOOL_CU_RETURN_IF_ERROR(EncodeLaunchAttributes(config, &attrs));
  const CUlaunchConfig c = *config;
  auto send = [=](std::uint64_t on) {
    iovec tail{const_cast<char*>(p.params.data()), p.params.size()};
    return Rpc<Op::LaunchKernelEx>(p.context,
                                   {p.function, c.gridDimX, c.gridDimY, c.gridDimZ, c.blockDimX, c.blockDimY,
                                    c.blockDimZ, c.sharedMemBytes, on, attrs},
                                   nullptr, Tail{&tail, 1});
  };
  return SubmitOp(CU_GRAPH_NODE_TYPE_KERNEL, config->hStream, p.context, p.stream, send);
}

}  // namespace

GPUPOOL_API CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gx, unsigned int gy,
                                               unsigned int gz, unsigned int bx, unsigned int by,
                                               unsigned int bz, unsigned int shared, CUstream stream,
                                               void** params) {
  return Launch<Op::LaunchCooperativeKernel>(f, gx, gy, gz, bx, by, bz, shared, stream, params, nullptr,
                                             false);
}

GPUPOOL_API CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy,
                                                    unsigned int gz, unsigned int bx, unsigned int by,
                                                    unsigned int bz, unsigned int shared, CUstream stream,
                                                    void** params) {
  return Launch<Op::LaunchCooperativeKernel>(f, gx, gy, gz, bx, by, bz, shared, stream, params, nullptr,
                                             true);
}

GPUPOOL_API CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                    unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,
                                    CUstream stream, void** params, void** extra) {
  return Launch<Op::LaunchKernel>(f, gx, gy, gz, bx, by, bz, shared, stream, params, extra, false);
}

GPUPOOL_API CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                         unsigned int bx, unsigned int by, unsigned int bz,
                                         unsigned int shared, CUstream stream, void** params, void** extra) {
  return Launch<Op::LaunchKernel>(f, gx, gy, gz, bx, by, bz, shared, stream, params, extra, true);
}

GPUPOOL_API CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** params,
                                      void** extra) {
  return LaunchEx(config, f, params, extra, false);
}

GPUPOOL_API CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* config, CUfunction f, void** params,
                                           void** extra) {
  return LaunchEx(config, f, params, extra, true);
}
