// Handlers: kernel launches. The packed parameter bytes (the tail) are split at the function's
// parameter offsets into the kernelParams array the driver expects; their total length must cover
// the layout. Event handles inside launch attributes are session ids, translated here. Every launch
// goes through the session's ComputeShare (share admission, kernel time) when it has one.
#include <array>
#include <cstddef>
#include <cstring>

#include "remoting/protocol/frame.h"
#include "remoting/server/compute_share.h"
#include "remoting/server/dispatch.h"
#include "remoting/server/launch_attributes.h"

namespace gpupool::server {
namespace {

struct LaunchArgs {
  CUfunction f = nullptr;
  CUstream stream = nullptr;
  alignas(16) std::array<char, protocol::kMaxKernelParamBytes + 4> bytes;
  std::vector<void*> params;
};

CUresult Prepare(Session& s, std::uint64_t function_id, std::uint64_t stream_id, std::string_view tail,
                 LaunchArgs* args) {
  if (CUresult r = s.Function(function_id, &args->f); r != CUDA_SUCCESS) return r;
  if (CUresult r = s.Stream(stream_id, &args->stream); r != CUDA_SUCCESS) return r;
  const ParamLayout* layout = nullptr;
  if (CUresult r = s.Layout(args->f, &layout); r != CUDA_SUCCESS) return r;
  if (tail.size() > protocol::kMaxKernelParamBytes || layout->end > protocol::kMaxKernelParamBytes)
    return CUDA_ERROR_INVALID_VALUE;
  // Copied to aligned storage: the tail sits at an arbitrary offset of the frame buffer.
  std::memcpy(args->bytes.data(), tail.data(), tail.size());
  // A launch through `extra` may pass fewer bytes than the kernel declares, which the driver accepts:
  // NCCL passes only the part of its 4 KiB argument structure that the launch uses. What the program
  // did not pass reads as zero rather than as a previous launch's bytes.
  if (tail.size() < layout->end) std::memset(args->bytes.data() + tail.size(), 0, layout->end - tail.size());
  args->params.resize(layout->offsets.size());
  for (std::size_t i = 0; i < layout->offsets.size(); ++i)
    args->params[i] = args->bytes.data() + layout->offsets[i];
  return CUDA_SUCCESS;
}

// On the current context's device, under that device's compute share; counted there.
template <typename F>
CUresult Launch(Session& s, CUstream stream, F&& launch) {
  const int device = s.IssuingDevice();
  if (SessionGpu* gpu = s.StatsFor(device)) ++gpu->kernels_launched;
  ComputeShare* compute = s.ComputeFor(device);
  return compute != nullptr ? compute->Launch(stream, std::forward<F>(launch)) : launch();
}

}  // namespace

GPUPOOL_HANDLER(LaunchKernel) {
  const auto& [function_id, gx, gy, gz, bx, by, bz, shared, stream_id] = in;
  LaunchArgs args;
  if (CUresult r = Prepare(s, function_id, stream_id, tail, &args); r != CUDA_SUCCESS) return r;
  return Launch(s, args.stream, [&] {
    return GPUPOOL_DRIVER(s, cuLaunchKernel, args.f, gx, gy, gz, bx, by, bz, shared, args.stream,
                          args.params.data(), nullptr);
  });
}

GPUPOOL_HANDLER(LaunchCooperativeKernel) {
  const auto& [function_id, gx, gy, gz, bx, by, bz, shared, stream_id] = in;
  LaunchArgs args;
  if (CUresult r = Prepare(s, function_id, stream_id, tail, &args); r != CUDA_SUCCESS) return r;
  return Launch(s, args.stream, [&] {
    return GPUPOOL_DRIVER(s, cuLaunchCooperativeKernel, args.f, gx, gy, gz, bx, by, bz, shared, args.stream,
                          args.params.data());
  });
}

GPUPOOL_HANDLER(LaunchKernelEx) {
  const auto& [function_id, gx, gy, gz, bx, by, bz, shared, stream_id, raw_attrs] = in;
  std::vector<CUlaunchAttribute> attrs;
  if (CUresult r = DecodeLaunchAttributes(s, raw_attrs, &attrs); r != CUDA_SUCCESS) return r;
  LaunchArgs args;
  if (CUresult r = Prepare(s, function_id, stream_id, tail, &args); r != CUDA_SUCCESS) return r;
  CUlaunchConfig config = LaunchConfig(gx, gy, gz, bx, by, bz, shared, args.stream, attrs);
  return Launch(s, args.stream, [&] {
    return GPUPOOL_DRIVER(s, cuLaunchKernelEx, &config, args.f, args.params.data(), nullptr);
  });
}

}  // namespace gpupool::server
