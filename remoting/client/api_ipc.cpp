// Interprocess memory and event handles (cuIpcGetMemHandle and the rest), and virtual memory shared
// as POSIX descriptors (cuMemExportToShareableHandle). The handle the program
// passes to its other process holds gpupool's token for the export: the bytes "gpupool" and a
// version, then the token's two words. The other process opens it through its own session, on the
// same server; the server checks that both sessions belong to one pod (docs/protocol.md).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "remoting/client/api_support.h"
#include "remoting/client/graph_memory.h"
#include "remoting/client/mem_pool.h"
#include "remoting/client/pools.h"

using namespace gpupool::client;

namespace {

constexpr char kMagic[8] = {'g', 'p', 'u', 'p', 'o', 'o', 'l', 1};

template <typename Handle>
void Encode(std::uint64_t high, std::uint64_t low, Handle* handle) {
  std::memset(handle, 0, sizeof *handle);
  std::memcpy(handle->reserved, kMagic, sizeof kMagic);
  std::memcpy(handle->reserved + 8, &high, 8);
  std::memcpy(handle->reserved + 16, &low, 8);
}

template <typename Handle>
bool Decode(const Handle& handle, std::uint64_t* high, std::uint64_t* low) {
  if (std::memcmp(handle.reserved, kMagic, sizeof kMagic) != 0) return false;
  std::memcpy(high, handle.reserved + 8, 8);
  std::memcpy(low, handle.reserved + 16, 8);
  return true;
}

// What the program gets for a handle the server does not know, said once per call name.
CUresult Unknown(CUresult result, const char* call) {
  if (result == CUDA_ERROR_INVALID_HANDLE) {
    GPUPOOL_LOG_ONCE(kWarn, std::string(call) + " unknown")
        << call
        << ": the handle is not open on this gpupool server (its memory was freed or "
           "its event destroyed, the process that made it ended, or it comes "
           "from another pod or another server)";
  }
  return result;
}

CUresult NotOurs(const char* call) {
  GPUPOOL_LOG_ONCE(kWarn, std::string(call) + " foreign")
      << call
      << ": not a handle from gpupool's libcuda (the other process must "
         "run through gpupool too, against the same server)";
  return CUDA_ERROR_INVALID_VALUE;
}

// A sealed memfd holding `bytes`: a descriptor the program passes to another process in place of the
// driver's. -1 when it cannot be made.
int SealedMemfd(const char* name, const void* bytes, std::size_t n) {
  const int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  if (write(fd, bytes, n) != static_cast<ssize_t>(n) ||
      fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// What such a descriptor holds (`n` bytes from its start); false when it cannot be read.
bool ReadDescriptor(void* os_handle, void* bytes, std::size_t n) {
  const int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(os_handle));  // as cuda.h passes it
  return pread(fd, bytes, n, 0) == static_cast<ssize_t>(n);
}

// Opens not yet closed, by pointer: the range stays known (State) until the last close.
struct OpenedMemory {
  std::mutex mu;
  std::map<CUdeviceptr, std::size_t> opens;
};
OpenedMemory& Opened() {
  static OpenedMemory* opened = new OpenedMemory;  // used until exit
  return *opened;
}

}  // namespace

namespace gpupool::client {

bool LegacyIpcCapable(CUdeviceptr ptr) {
  CUdeviceptr base = 0;
  if (!State::Get().FindAllocation(ptr, &base, nullptr) ||
      State::Get().FindReservation(ptr, nullptr, nullptr))
    return false;
  if (ManagedMemory::Get().Contains(ptr) || Pools::Get().IsBlock(base) || GraphMemory::Get().Contains(base))
    return false;
  std::lock_guard<std::mutex> lock(Opened().mu);
  return Opened().opens.count(base) == 0;  // another process's memory, opened here
}

}  // namespace gpupool::client

GPUPOOL_API CUresult cuIpcGetMemHandle(CUipcMemHandle* handle, CUdeviceptr dptr) {
  if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  // Only cuMemAlloc memory, as in CUDA. The server refuses what it knows is not (module globals,
  // virtual memory mappings, other sessions' memory); managed memory, pool blocks and graph memory
  // are server allocations made here for the program, so the client refuses them itself.
  if (!LegacyIpcCapable(dptr)) return CUDA_ERROR_INVALID_VALUE;
  protocol::Call<Op::IpcGetMemHandle>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::IpcGetMemHandle>(context, {dptr}, &reply));
  Encode(std::get<0>(reply), std::get<1>(reply), handle);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuIpcOpenMemHandle_v2(CUdeviceptr* dptr, CUipcMemHandle handle, unsigned int flags) {
  if (dptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  std::uint64_t high = 0, low = 0;
  if (!Decode(handle, &high, &low)) return NotOurs("cuIpcOpenMemHandle");
  protocol::Call<Op::IpcOpenMemHandle>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(
      Unknown(Rpc<Op::IpcOpenMemHandle>(context, {high, low, flags}, &reply), "cuIpcOpenMemHandle"));
  const auto& [ptr, bytes] = reply;
  {
    std::lock_guard<std::mutex> lock(Opened().mu);
    if (Opened().opens[ptr]++ == 0) State::Get().AddAllocation(ptr, bytes);
  }
  *dptr = ptr;
  return CUDA_SUCCESS;
}
#undef cuIpcOpenMemHandle
// The CUDA 4.1 symbol: the same call (flags were always the lazy peer-access flag or 0).
GPUPOOL_API CUresult cuIpcOpenMemHandle(CUdeviceptr* dptr, CUipcMemHandle handle, unsigned int flags) {
  return cuIpcOpenMemHandle_v2(dptr, handle, flags);
}

GPUPOOL_API CUresult cuIpcCloseMemHandle(CUdeviceptr dptr) {
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  DrainFor(context, 0, true);  // synchronising: work held on the client may still use it
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::IpcCloseMemHandle>(context, {dptr}));
  std::lock_guard<std::mutex> lock(Opened().mu);
  auto it = Opened().opens.find(dptr);
  if (it != Opened().opens.end() && --it->second == 0) {
    Opened().opens.erase(it);
    State::Get().RemoveAllocation(dptr);
  }
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuIpcGetEventHandle(CUipcEventHandle* handle, CUevent event) {
  if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  Event* e = State::Get().events.Find(event);
  if (e == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  protocol::Call<Op::IpcGetEventHandle>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::IpcGetEventHandle>(0, {e->id}, &reply));
  Encode(std::get<0>(reply), std::get<1>(reply), handle);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuIpcOpenEventHandle(CUevent* event, CUipcEventHandle handle) {
  if (event == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  std::uint64_t high = 0, low = 0;
  if (!Decode(handle, &high, &low)) return NotOurs("cuIpcOpenEventHandle");
  protocol::Call<Op::IpcOpenEventHandle>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(
      Unknown(Rpc<Op::IpcOpenEventHandle>(context, {high, low}, &reply), "cuIpcOpenEventHandle"));
  auto object = std::make_unique<Event>();
  object->id = std::get<0>(reply);
  object->context = State::Current();
  object->flags = CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING;
  *event = reinterpret_cast<CUevent>(State::Get().events.Add(std::move(object)));
  return CUDA_SUCCESS;
}

// Virtual memory shared as a POSIX descriptor (cuMemExportToShareableHandle, as PyTorch's expandable
// segments and NCCL share memory). The driver's descriptor stays with the exporting worker, which hands
// a copy to the importing one. The program gets a descriptor too: a small sealed memfd holding what an
// interprocess handle holds (the token); it passes it to the other process as it would the driver's
// (SCM_RIGHTS, pidfd_getfd), and cuMemImportFromShareableHandle there reads the token back.
GPUPOOL_API CUresult cuMemExportToShareableHandle(void* shareable, CUmemGenericAllocationHandle handle,
                                                  CUmemAllocationHandleType type, unsigned long long flags) {
  if (shareable == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  if (type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) {
    GPUPOOL_LOG_ONCE(kWarn, "cuMemExportToShareableHandle type")
        << "cuMemExportToShareableHandle: gpupool exports POSIX file descriptors only";
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  protocol::Call<Op::MemExportToShareableHandle>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemExportToShareableHandle>(0, {handle}, &reply));
  CUipcMemHandle bytes;
  Encode(std::get<0>(reply), std::get<1>(reply), &bytes);
  const int fd = SealedMemfd("gpupool-shareable-handle", bytes.reserved, sizeof bytes.reserved);
  if (fd < 0) return CUDA_ERROR_OPERATING_SYSTEM;
  std::memcpy(shareable, &fd, sizeof fd);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemImportFromShareableHandle(CUmemGenericAllocationHandle* handle, void* os_handle,
                                                    CUmemAllocationHandleType type) {
  if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) {
    GPUPOOL_LOG_ONCE(kWarn, "cuMemImportFromShareableHandle type")
        << "cuMemImportFromShareableHandle: gpupool imports POSIX file descriptors only";
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  CUipcMemHandle bytes{};
  std::uint64_t high = 0, low = 0;
  if (!ReadDescriptor(os_handle, bytes.reserved, sizeof bytes.reserved) || !Decode(bytes, &high, &low))
    return NotOurs("cuMemImportFromShareableHandle");
  protocol::Call<Op::MemImportFromShareableHandle>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Unknown(Rpc<Op::MemImportFromShareableHandle>(0, {high, low}, &reply),
                                     "cuMemImportFromShareableHandle"));
  *handle = std::get<0>(reply);
  return CUDA_SUCCESS;
}

// Memory pools shared with other processes (cuMemPoolExportToShareableHandle, cuMemPoolExportPointer;
// CUDA's streamOrderedAllocationIPC). gpupool's pools live on the client and each allocation is a
// server allocation of its own, so sharing a pool is sharing its allocations one by one: the pool's
// descriptor carries only the pool's id (and device), an exported pointer's data the id and the
// allocation's interprocess token, and an import opens that token (cuIpcOpenMemHandle).
namespace {

constexpr char kPoolMagic[8] = {'g', 'p', 'u', 'p', 'o', 'o', 'l', 2};
constexpr char kPointerMagic[8] = {'g', 'p', 'u', 'p', 'o', 'o', 'l', 3};

// Pointers imported from other processes' pools, until freed (a pointer imported twice is here twice).
struct ImportedPointers {
  std::mutex mu;
  std::multiset<CUdeviceptr> pointers;
  std::atomic<bool> any{false};  // every free asks; most processes never import one
};
ImportedPointers& Imported() {
  static ImportedPointers* imported = new ImportedPointers;  // used until exit
  return *imported;
}

}  // namespace

CUresult gpupool::client::MakeExportable(MemPool* pool) {
  std::uint64_t id[2] = {};
  if (getrandom(id, sizeof id, 0) != static_cast<ssize_t>(sizeof id)) return CUDA_ERROR_OPERATING_SYSTEM;
  pool->sharing.exportable = true;
  pool->sharing.id[0] = id[0];
  pool->sharing.id[1] = id[1] | 1;
  return CUDA_SUCCESS;
}

bool gpupool::client::FreeImportedPoolPointer(CUdeviceptr ptr, CUstream stream, bool per_thread,
                                              CUresult* result) {
  if (!Imported().any.load(std::memory_order_acquire)) return false;
  {
    std::lock_guard<std::mutex> lock(Imported().mu);
    auto it = Imported().pointers.find(ptr);
    if (it == Imported().pointers.end()) return false;
    Imported().pointers.erase(it);
  }
  // In stream order: what the stream was given before the free may still use the memory.
  *result = SynchronizeStream(stream, per_thread);
  if (*result == CUDA_SUCCESS) *result = cuIpcCloseMemHandle(ptr);
  return true;
}

GPUPOOL_API CUresult cuMemPoolExportToShareableHandle(void* shareable, CUmemoryPool handle,
                                                      CUmemAllocationHandleType type,
                                                      unsigned long long flags) {
  if (shareable == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  if (type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) return CUDA_ERROR_NOT_SUPPORTED;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  MemPool* pool = Pools::Get().Find(handle);
  if (pool == nullptr || !pool->sharing.exportable) return CUDA_ERROR_INVALID_VALUE;
  unsigned char bytes[64] = {};
  const int device = pool->device();
  std::memcpy(bytes, kPoolMagic, 8);
  std::memcpy(bytes + 8, pool->sharing.id, 16);
  std::memcpy(bytes + 24, &device, sizeof device);
  const int fd = SealedMemfd("gpupool-shareable-pool", bytes, sizeof bytes);
  if (fd < 0) return CUDA_ERROR_OPERATING_SYSTEM;
  std::memcpy(shareable, &fd, sizeof fd);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemPoolImportFromShareableHandle(CUmemoryPool* handle, void* os_handle,
                                                        CUmemAllocationHandleType type,
                                                        unsigned long long flags) {
  if (handle == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  if (type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) return CUDA_ERROR_NOT_SUPPORTED;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  unsigned char bytes[64] = {};
  if (!ReadDescriptor(os_handle, bytes, sizeof bytes) || std::memcmp(bytes, kPoolMagic, 8) != 0)
    return NotOurs("cuMemPoolImportFromShareableHandle");
  int device = 0;
  std::memcpy(&device, bytes + 24, sizeof device);
  if (State::Get().device(device) == nullptr) device = 0;  // this process may see the GPU as another ordinal
  MemPool* pool = Pools::Get().Create(device, 0);
  pool->sharing.imported = true;
  std::memcpy(pool->sharing.id, bytes + 8, 16);
  *handle = reinterpret_cast<CUmemoryPool>(pool);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemPoolExportPointer(CUmemPoolPtrExportData* data, CUdeviceptr ptr) {
  if (data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  MemPool* pool = Pools::Get().PoolOf(ptr);
  if (pool == nullptr || !pool->sharing.exportable || !pool->InUse(ptr)) return CUDA_ERROR_INVALID_VALUE;
  protocol::Call<Op::IpcGetMemHandle>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::IpcGetMemHandle>(context, {ptr}, &reply));
  std::memset(data, 0, sizeof *data);
  std::memcpy(data->reserved, kPointerMagic, 8);
  std::memcpy(data->reserved + 8, pool->sharing.id, 16);
  std::memcpy(data->reserved + 24, &std::get<0>(reply), 8);
  std::memcpy(data->reserved + 32, &std::get<1>(reply), 8);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemPoolImportPointer(CUdeviceptr* ptr, CUmemoryPool handle,
                                            CUmemPoolPtrExportData* data) {
  if (ptr == nullptr || data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  MemPool* pool = Pools::Get().Find(handle);
  if (pool == nullptr || !pool->sharing.imported) return CUDA_ERROR_INVALID_VALUE;
  if (std::memcmp(data->reserved, kPointerMagic, 8) != 0) return NotOurs("cuMemPoolImportPointer");
  if (std::memcmp(data->reserved + 8, pool->sharing.id, 16) != 0)
    return CUDA_ERROR_INVALID_VALUE;  // another pool's
  std::uint64_t high = 0, low = 0;
  std::memcpy(&high, data->reserved + 24, 8);
  std::memcpy(&low, data->reserved + 32, 8);
  CUipcMemHandle ipc;
  Encode(high, low, &ipc);
  CUdeviceptr opened = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(cuIpcOpenMemHandle_v2(&opened, ipc, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
  {
    std::lock_guard<std::mutex> lock(Imported().mu);
    Imported().pointers.insert(opened);
    Imported().any.store(true, std::memory_order_release);
  }
  *ptr = opened;
  return CUDA_SUCCESS;
}
