// Peer access and peer/host atomics, as a session's remote devices honestly answer them. All of a
// session's devices are one server's, opened by one worker process, so peer access is the server
// driver's: cuCtxEnablePeerAccess and cuCtxDisablePeerAccess are forwarded where it says the devices
// can reach each other, and fail with CUDA_ERROR_PEER_ACCESS_UNSUPPORTED where it says they cannot
// (always for a single device). cuDeviceGetP2PAttribute is the server driver's too. Host and peer
// atomics are answered 0: host memory is mapped only for a client on the server's node (README
// "Mapped host memory"), and a program must never rely on an atomic gpupool has not seen work.
#include "remoting/client/api_support.h"

using namespace gpupool::client;

namespace {

// The argument checks of cuDeviceGet{Host,P2P}AtomicCapabilities, then every capability 0.
CUresult NoAtomics(unsigned* capabilities, const CUatomicOperation* operations, unsigned count) {
  if (count > 0 && (capabilities == nullptr || operations == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  for (unsigned i = 0; i < count; ++i) {
    if (static_cast<unsigned>(operations[i]) >= CU_ATOMIC_OPERATION_MAX) return CUDA_ERROR_INVALID_VALUE;
  }
  for (unsigned i = 0; i < count; ++i) capabilities[i] = 0;
  return CUDA_SUCCESS;
}

// Both devices exist and differ (a device is not its own peer: CUDA_ERROR_INVALID_DEVICE).
CUresult PeerDevices(CUdevice src, CUdevice dst) {
  Device* device = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindDevice(src, &device));
  GPUPOOL_CU_RETURN_IF_ERROR(FindDevice(dst, &device));
  return src == dst ? CUDA_ERROR_INVALID_DEVICE : CUDA_SUCCESS;
}

}  // namespace

GPUPOOL_API CUresult cuCtxEnablePeerAccess(CUcontext peer_handle, unsigned int flags) {
  Context* current = nullptr;
  Context* peer = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindContext(nullptr, &current));
  if (peer_handle == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  GPUPOOL_CU_RETURN_IF_ERROR(FindContext(peer_handle, &peer));
  if (peer == current) return CUDA_ERROR_INVALID_CONTEXT;
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  int can = 0;
  if (current->device != peer->device) {
    protocol::Call<Op::DeviceCanAccessPeer>::Reply reply;
    GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::DeviceCanAccessPeer>(0, {current->device, peer->device}, &reply));
    can = std::get<0>(reply);
  }
  if (can == 0) return CUDA_ERROR_PEER_ACCESS_UNSUPPORTED;
  // Both contexts live in the session's worker, where the driver maps the memory between them.
  if (current->id == 0 || peer->id == 0) return CUDA_ERROR_INVALID_CONTEXT;  // a primary not retained
  return Rpc<Op::CtxEnablePeerAccess>(current->id, {peer->id, flags});
}

GPUPOOL_API CUresult cuCtxDisablePeerAccess(CUcontext peer_handle) {
  Context* current = nullptr;
  Context* peer = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindContext(nullptr, &current));
  if (peer_handle == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  GPUPOOL_CU_RETURN_IF_ERROR(FindContext(peer_handle, &peer));
  if (current->id == 0 || peer->id == 0) return CUDA_ERROR_INVALID_CONTEXT;
  return Rpc<Op::CtxDisablePeerAccess>(current->id, {peer->id});
}

GPUPOOL_API CUresult cuDeviceGetP2PAttribute(int* value, CUdevice_P2PAttribute attribute, CUdevice src,
                                             CUdevice dst) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(PeerDevices(src, dst));
  protocol::Call<Op::DeviceGetP2PAttribute>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(
      Rpc<Op::DeviceGetP2PAttribute>(0, {static_cast<std::int32_t>(attribute), src, dst}, &reply));
  *value = std::get<0>(reply);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuDeviceGetHostAtomicCapabilities(unsigned int* capabilities,
                                                       const CUatomicOperation* operations,
                                                       unsigned int count, CUdevice ordinal) {
  Device* device = nullptr;
  GPUPOOL_CU_RETURN_IF_ERROR(FindDevice(ordinal, &device));
  return NoAtomics(capabilities, operations, count);
}

GPUPOOL_API CUresult cuDeviceGetP2PAtomicCapabilities(unsigned int* capabilities,
                                                      const CUatomicOperation* operations, unsigned int count,
                                                      CUdevice src, CUdevice dst) {
  GPUPOOL_CU_RETURN_IF_ERROR(PeerDevices(src, dst));
  return NoAtomics(capabilities, operations, count);
}
