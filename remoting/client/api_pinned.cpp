// Pinned host memory (pinned_memory.h). With a worker on this host, cuMemHostAlloc takes it from the
// mapped arena (mapped_arena.h) and has the worker register it for the session's GPUs, so a kernel
// can use the program's pointer as natively with unified addressing (NCCL's flags and work queues,
// zero-copy programs). Otherwise it is plain host memory: the GPU is remote, page-locking would buy
// nothing, and copies from these buffers go over the socket like any other host memory. Copies into
// pinned memory may be deferred (copy_engine.h).
#include <sys/mman.h>

#include <cerrno>

#include "common/log.h"
#include "remoting/client/api_support.h"
#include "remoting/protocol/mapped_arena.h"

using namespace gpupool::client;

namespace {

// Faults the pages of [p, p + bytes) in here, before the worker pins them: a memfd's page is charged
// to the memory cgroup of the process that first touches it, and this way that is the program's (its
// pod's limit), as its own pinned memory would be, not the server's. False when the memory is not
// there (the pod's limit reached).
bool Populate(void* p, std::size_t bytes) {
  if (::madvise(p, bytes, MADV_POPULATE_WRITE) == 0) return true;
  if (errno != EINVAL) return false;
  for (std::size_t at = 0; at < bytes; at += protocol::kMappedArenaPage)  // kernels before 5.14
    static_cast<volatile char*>(p)[at] = 0;  // the range is fresh: zeros stay zeros
  return true;
}

// An allocation from the mapped arena, registered for the GPUs. NOT_FOUND (no driver answer) when
// there is no arena; INVALID_CONTEXT without a current context (the worker's driver registers in
// one); OUT_OF_MEMORY when the arena has no room; otherwise the worker's answer.
CUresult AllocateMapped(std::size_t bytes, unsigned flags, void** out) {
  MappedArena* arena = State::Get().session()->mapped_arena();
  if (arena == nullptr) return CUDA_ERROR_NOT_FOUND;
  std::uint64_t context = 0;
  if (State::Get().CurrentId(&context) != CUDA_SUCCESS) return CUDA_ERROR_INVALID_CONTEXT;
  std::size_t rounded = 0;
  void* p = arena->Take(bytes, &rounded);
  if (p == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
  const CUresult r = Populate(p, rounded) ? Rpc<Op::MemHostRegisterMapped>(
                                                context, {reinterpret_cast<std::uint64_t>(p), rounded})
                                          : CUDA_ERROR_OUT_OF_MEMORY;
  if (r != CUDA_SUCCESS) {
    arena->Give(p, rounded);
    return r;
  }
  State::Get().pinned.AddMapped(p, bytes, rounded, flags);
  *out = p;
  return CUDA_SUCCESS;
}

}  // namespace

GPUPOOL_API CUresult cuMemHostAlloc(void** ptr, size_t bytes, unsigned int flags) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  GPUPOOL_CU_RETURN_IF_ERROR(PinnedMemory::CheckAllocation(bytes, flags, ptr));
  // With unified addressing every pinned allocation is mapped, DEVICEMAP or not. Where the server
  // cannot map it (no arena: a server on another host; no current context; past the server's
  // --session-mapped-memory; a GPU that maps registered memory elsewhere), the allocation is the
  // program's alone, as before the arena existed: NCCL asks for DEVICEMAP and its kernels seldom touch
  // the memory, and failing would stop it at once. One that asked for DEVICEMAP says why, once,
  // since a kernel that does use it fails; cuMemHostGetDevicePointer refuses it.
  const CUresult mapped = AllocateMapped(bytes, flags, ptr);
  if (mapped == CUDA_SUCCESS) return CUDA_SUCCESS;
  if ((flags & CU_MEMHOSTALLOC_DEVICEMAP) != 0) {
    GPUPOOL_LOG_ONCE(kWarn, "mapped host memory not mapped")
        << "cuMemHostAlloc asked for mapped host memory, which the GPU can reach only when the program "
           "runs on its server's node (a Kubernetes pod: annotation gpupool.io/locality: node), within "
           "the server's --session-mapped-memory"
        << (mapped == CUDA_ERROR_NOT_FOUND
                ? std::string()
                : std::string(" (here: ") + protocol::ResultName(static_cast<std::uint32_t>(mapped)) + ")")
        << "; this allocation is the program's alone, and a kernel that uses it fails";
  } else if (mapped != CUDA_ERROR_NOT_FOUND) {
    GPUPOOL_LOG_ONCE(kInfo, "pinned memory not mapped")
        << "pinned host memory the server could not map for the GPU ("
        << protocol::ResultName(static_cast<std::uint32_t>(mapped))
        << ": no current context, or past the server's --session-mapped-memory) is the program's alone";
  }
  return State::Get().pinned.Allocate(bytes, flags, ptr);
}

GPUPOOL_API CUresult cuMemAllocHost(void** ptr, size_t bytes) {
  return cuMemHostAlloc(ptr, bytes, 0);
}

GPUPOOL_API CUresult cuMemFreeHost(void* ptr) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  // None may land in freed memory. It fails only with the connection, which ends every copy too.
  (void)FinishDeferredCopies();
  std::size_t mapped = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().pinned.Free(ptr, &mapped));
  if (mapped == 0) return CUDA_SUCCESS;
  // An arena allocation: the worker lets go of the pages (after the GPU's work on them, as
  // cuMemFreeHost waits) before the arena may hand them out again.
  std::uint64_t context = 0;  // the worker's driver lets go in a context, any of the session's
  (void)State::Get().CurrentId(&context);
  GPUPOOL_CU_RETURN_IF_ERROR(
      Rpc<Op::MemHostUnregisterMapped>(context, {reinterpret_cast<std::uint64_t>(ptr)}));
  State::Get().session()->mapped_arena()->Give(ptr, mapped);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMemHostRegister(void* ptr, size_t bytes, unsigned int flags) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  return State::Get().pinned.Register(ptr, bytes, flags);
}

#undef cuMemHostRegister
GPUPOOL_API CUresult cuMemHostRegister(void* ptr, size_t bytes, unsigned int flags) {
  return cuMemHostRegister_v2(ptr, bytes, flags);
}

GPUPOOL_API CUresult cuMemHostUnregister(void* ptr) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  (void)FinishDeferredCopies();  // the program may free the memory next (as in cuMemFreeHost)
  return State::Get().pinned.Unregister(ptr);
}

GPUPOOL_API CUresult cuMemHostGetFlags(unsigned int* flags, void* ptr) {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  return State::Get().pinned.Find(ptr, flags) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

// The device address of mapped memory is its host address (unified addressing). Only allocations
// from the mapped arena have one: memory the program registered lies outside it, and a server on
// another host cannot reach the program's memory at all.
GPUPOOL_API CUresult cuMemHostGetDevicePointer(CUdeviceptr* dptr, void* ptr, unsigned int flags) {
  if (dptr == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  bool mapped = false;
  if (!State::Get().pinned.Find(ptr, nullptr, &mapped)) return CUDA_ERROR_INVALID_VALUE;
  if (!mapped) {
    GPUPOOL_LOG_ONCE(kWarn, "cuMemHostGetDevicePointer")
        << "cuMemHostGetDevicePointer: only pinned memory from cuMemHostAlloc with the server on this "
           "host, within its --session-mapped-memory, is mapped for the GPU (remoting/client/README.md, "
           "\"Mapped host memory\")";
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  *dptr = reinterpret_cast<CUdeviceptr>(ptr);
  return CUDA_SUCCESS;
}
