// Copies between contexts (cuMemcpyPeer, cuMemcpy3DPeer and their async and per-thread forms). A
// session's contexts all live in one worker process on one server, with unified addressing, so a
// copy between two of them is a device-to-device copy there; each context must be one of the
// program's, as CUDA requires.
#include "remoting/client/api_support.h"

using namespace gpupool::client;

// The per-thread-stream twins the copies below use; cuda.h declares them only for programs built
// with per-thread default streams.
extern "C" {
CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr dst, CUdeviceptr src, size_t bytes);
CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream);
CUresult cuMemcpy3D_v2_ptds(const CUDA_MEMCPY3D* copy);
CUresult cuMemcpy3DAsync_v2_ptsz(const CUDA_MEMCPY3D* copy, CUstream stream);
}

namespace {

CUresult CheckContexts(CUcontext dst, CUcontext src) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  if (!State::Get().IsContext(dst) || !State::Get().IsContext(src)) return CUDA_ERROR_INVALID_CONTEXT;
  return CUDA_SUCCESS;
}

// The CUDA_MEMCPY3D a peer copy describes (the same fields without the contexts).
CUresult Plain(const CUDA_MEMCPY3D_PEER* peer, CUDA_MEMCPY3D* copy) {
  if (peer == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(CheckContexts(peer->dstContext, peer->srcContext));
  *copy = CUDA_MEMCPY3D{};
  copy->srcXInBytes = peer->srcXInBytes, copy->srcY = peer->srcY, copy->srcZ = peer->srcZ;
  copy->srcLOD = peer->srcLOD, copy->srcMemoryType = peer->srcMemoryType, copy->srcHost = peer->srcHost;
  copy->srcDevice = peer->srcDevice, copy->srcArray = peer->srcArray, copy->srcPitch = peer->srcPitch;
  copy->srcHeight = peer->srcHeight;
  copy->dstXInBytes = peer->dstXInBytes, copy->dstY = peer->dstY, copy->dstZ = peer->dstZ;
  copy->dstLOD = peer->dstLOD, copy->dstMemoryType = peer->dstMemoryType, copy->dstHost = peer->dstHost;
  copy->dstDevice = peer->dstDevice, copy->dstArray = peer->dstArray, copy->dstPitch = peer->dstPitch;
  copy->dstHeight = peer->dstHeight;
  copy->WidthInBytes = peer->WidthInBytes, copy->Height = peer->Height, copy->Depth = peer->Depth;
  return CUDA_SUCCESS;
}

}  // namespace

GPUPOOL_API CUresult cuMemcpyPeer(CUdeviceptr dst, CUcontext dst_context, CUdeviceptr src,
                                  CUcontext src_context, size_t bytes) {
  GPUPOOL_CU_RETURN_IF_ERROR(CheckContexts(dst_context, src_context));
  return cuMemcpyDtoD(dst, src, bytes);
}
GPUPOOL_API CUresult cuMemcpyPeer_ptds(CUdeviceptr dst, CUcontext dst_context, CUdeviceptr src,
                                       CUcontext src_context, size_t bytes) {
  GPUPOOL_CU_RETURN_IF_ERROR(CheckContexts(dst_context, src_context));
  return cuMemcpyDtoD_v2_ptds(dst, src, bytes);
}
GPUPOOL_API CUresult cuMemcpyPeerAsync(CUdeviceptr dst, CUcontext dst_context, CUdeviceptr src,
                                       CUcontext src_context, size_t bytes, CUstream stream) {
  GPUPOOL_CU_RETURN_IF_ERROR(CheckContexts(dst_context, src_context));
  return cuMemcpyDtoDAsync(dst, src, bytes, stream);
}
GPUPOOL_API CUresult cuMemcpyPeerAsync_ptsz(CUdeviceptr dst, CUcontext dst_context, CUdeviceptr src,
                                            CUcontext src_context, size_t bytes, CUstream stream) {
  GPUPOOL_CU_RETURN_IF_ERROR(CheckContexts(dst_context, src_context));
  return cuMemcpyDtoDAsync_v2_ptsz(dst, src, bytes, stream);
}

GPUPOOL_API CUresult cuMemcpy3DPeer(const CUDA_MEMCPY3D_PEER* peer) {
  CUDA_MEMCPY3D copy;
  GPUPOOL_CU_RETURN_IF_ERROR(Plain(peer, &copy));
  return cuMemcpy3D(&copy);
}
GPUPOOL_API CUresult cuMemcpy3DPeer_ptds(const CUDA_MEMCPY3D_PEER* peer) {
  CUDA_MEMCPY3D copy;
  GPUPOOL_CU_RETURN_IF_ERROR(Plain(peer, &copy));
  return cuMemcpy3D_v2_ptds(&copy);
}
GPUPOOL_API CUresult cuMemcpy3DPeerAsync(const CUDA_MEMCPY3D_PEER* peer, CUstream stream) {
  CUDA_MEMCPY3D copy;
  GPUPOOL_CU_RETURN_IF_ERROR(Plain(peer, &copy));
  return cuMemcpy3DAsync(&copy, stream);
}
GPUPOOL_API CUresult cuMemcpy3DPeerAsync_ptsz(const CUDA_MEMCPY3D_PEER* peer, CUstream stream) {
  CUDA_MEMCPY3D copy;
  GPUPOOL_CU_RETURN_IF_ERROR(Plain(peer, &copy));
  return cuMemcpy3DAsync_v2_ptsz(&copy, stream);
}
