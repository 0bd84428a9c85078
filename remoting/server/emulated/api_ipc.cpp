// Interprocess memory and events (cuIpcGetMemHandle, cuIpcOpenMemHandle_v2, cuIpcCloseMemHandle,
// cuIpcGetEventHandle, cuIpcOpenEventHandle) between emulated devices of different processes — in
// gpupool, the workers of two sessions of one server.
//
// A handle names a memfd of the exporting process (its pid and descriptor number) and a range in it:
// for memory, the device's memfd where DeviceMemory::Share moved the allocation; for an event, the
// SharedWord holding its record time. The opening process reaches the memfd through
// /proc/<pid>/fd/<fd>, which works between processes of one user while the exporter lives. The
// handles stay in the server: clients only ever see gpupool's tokens (remoting/server/ipc_directory.h),
// so nothing here trusts a handle more than the workers that wrote it.
#include <unistd.h>

#include <cstring>

#include "remoting/server/emulated/api.h"

namespace gpupool::server::emulated {
namespace {

constexpr std::uint32_t kMemoryMagic = 0x4d435049;  // "IPCM"
constexpr std::uint32_t kEventMagic = 0x45435049;   // "IPCE"

// What a CUipcMemHandle / CUipcEventHandle (64 bytes) holds here.
struct HandleBytes {
  std::uint32_t magic;
  std::int32_t pid;
  std::int32_t fd;
  std::uint32_t unused;
  std::uint64_t offset;
  std::uint64_t size;
};
static_assert(sizeof(HandleBytes) <= sizeof(CUipcMemHandle) &&
              sizeof(HandleBytes) <= sizeof(CUipcEventHandle));

template <typename Handle>
void Write(const HandleBytes& bytes, Handle* handle) {
  std::memset(handle, 0, sizeof *handle);
  std::memcpy(handle->reserved, &bytes, sizeof bytes);
}

template <typename Handle>
bool Read(const Handle& handle, std::uint32_t magic, HandleBytes* bytes) {
  std::memcpy(bytes, handle.reserved, sizeof *bytes);
  return bytes->magic == magic && bytes->pid > 0 && bytes->fd >= 0;
}

CUresult IpcGetMemHandle(CUipcMemHandle* handle, CUdeviceptr ptr) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // Only cuMemAlloc memory: not mappings, not host memory.
  DeviceMemory* memory = MemoryFor(ptr);
  if (memory == nullptr) return CUDA_ERROR_INVALID_VALUE;
  HandleBytes bytes{kMemoryMagic, static_cast<std::int32_t>(getpid()), -1, 0, 0, 0};
  if (CUresult r = memory->Share(ptr, &bytes.offset, &bytes.size); r != CUDA_SUCCESS) return r;
  bytes.fd = memory->mappable_fd();
  Write(bytes, handle);
  return CUDA_SUCCESS;
}

CUresult IpcOpenMemHandle(CUdeviceptr* ptr, CUipcMemHandle handle, unsigned flags) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  if (ptr == nullptr || (flags & ~static_cast<unsigned>(CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS)) != 0)
    return CUDA_ERROR_INVALID_VALUE;
  HandleBytes bytes{};
  if (!Read(handle, kMemoryMagic, &bytes)) return CUDA_ERROR_INVALID_VALUE;
  if (bytes.pid == getpid()) return CUDA_ERROR_INVALID_CONTEXT;  // the driver's answer in the exporter
  const int fd = OpenForeignDescriptor(bytes.pid, bytes.fd);
  if (fd < 0) return CUDA_ERROR_INVALID_VALUE;  // the exporter is gone
  return GetState().virtual_memory.Import(fd, bytes.offset, bytes.size, ctx->device, GetState().next_id++,
                                          ptr);
}

CUresult IpcCloseMemHandle(CUdeviceptr ptr) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  return GetState().virtual_memory.CloseImport(ptr);
}

CUresult IpcGetEventHandle(CUipcEventHandle* handle, CUevent event) {
  GPUPOOL_EMULATED_LOCK();
  GPUPOOL_EMULATED_REQUIRE_INIT();
  if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto it = GetState().events.find(event);
  if (it == GetState().events.end()) return CUDA_ERROR_INVALID_HANDLE;
  // Only events created with CU_EVENT_INTERPROCESS have a word another process can map.
  if (it->second->shared == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Write(HandleBytes{kEventMagic, static_cast<std::int32_t>(getpid()), it->second->shared->fd(), 0, 0, 0},
        handle);
  return CUDA_SUCCESS;
}

CUresult IpcOpenEventHandle(CUevent* out, CUipcEventHandle handle) {
  GPUPOOL_CURRENT_CONTEXT(ctx);
  (void)ctx;
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  HandleBytes bytes{};
  if (!Read(handle, kEventMagic, &bytes)) return CUDA_ERROR_INVALID_VALUE;
  if (bytes.pid == getpid()) return CUDA_ERROR_INVALID_CONTEXT;
  auto event = std::make_unique<Event>();
  event->flags = CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING;
  event->shared = SharedWord::Open(bytes.pid, bytes.fd);
  if (event->shared == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUevent opened = reinterpret_cast<CUevent>(event.get());
  GetState().events.emplace(opened, std::move(event));
  *out = opened;
  return CUDA_SUCCESS;
}

}  // namespace

void FillIpcApi(DriverApi& api) {
  api.cuIpcGetMemHandle = IpcGetMemHandle;
  api.cuIpcOpenMemHandle_v2 = IpcOpenMemHandle;
  api.cuIpcCloseMemHandle = IpcCloseMemHandle;
  api.cuIpcGetEventHandle = IpcGetEventHandle;
  api.cuIpcOpenEventHandle = IpcOpenEventHandle;
}

}  // namespace gpupool::server::emulated
