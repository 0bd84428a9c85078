// Managed (unified) memory, emulated on the client: one pointer that the program's host code and its
// kernels both use (cuMemAllocManaged). remoting/client/README.md, "Managed memory", says what a
// program sees; this is how.
//
// Each managed allocation lives in an *arena*: device memory the worker maps at an address it chose
// (virtual memory management: reserve, create, map), and the same addresses mapped in this process
// over a memfd, so the pointer means the same bytes on both sides. Allocations up to 1 MiB share 2 MiB
// arenas, page-aligned, in blocks of one page; larger ones get their own arena. A second mapping of
// the memfd (the *alias*) lets the client read and fill pages whatever the program's mapping allows.
//
// Coherence follows CUDA's rules for devices without concurrent managed access
// (CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS = 0, as the devices report through gpupool): the
// host may touch managed memory only while no device work that may use it is running. An arena is
// cut into blocks, each in one of three states:
//   kDevice: the device holds the bytes; the program's mapping is PROT_NONE.
//   kClean:  both hold the same bytes; PROT_READ.
//   kDirty:  the host wrote them; PROT_READ | PROT_WRITE.
// A host access to a kDevice block faults (SIGSEGV): the handler fetches the block (a synchronous
// device-to-host copy, which waits for the work of every blocking stream) into the alias and opens
// the program's mapping; a write to a kClean block marks it kDirty. Before device work is sent
// (BeforeDeviceWork), the dirty blocks of every allocation that work may use are copied to the device
// (synchronously, so every stream sees them) and closed: allocations attached globally, and those
// attached to the work's own stream (cuStreamAttachMemAsync); memory attached to the host stays the
// host's. A copy or memset that names managed memory hands over exactly that range
// (BeforeDeviceAccess). Nothing of this runs while no block is open on the host: BeforeDeviceWork
// costs one atomic load then.
//
// A new allocation is zero on both sides without moving a byte: the device range is memset, the host
// range is a hole in the memfd, and holes are never copied (they are zero on the device too).
//
// The client itself never touches the program's mapping: a "host" pointer into managed memory is a
// device pointer to every copy (Contains), and the client reads and writes the alias.
//
// Thread-safety: all methods are safe from any thread; the fault handler runs on the faulting thread.
#pragma once

#include <cuda.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace gpupool::client {

class ManagedMemory {
 public:
  static ManagedMemory& Get();

  // What cuMemAdvise said of an allocation, and where it was last prefetched to (cuMemRangeGetAttribute).
  struct Advice {
    bool read_mostly = false;
    CUmemLocation preferred{CU_MEM_LOCATION_TYPE_INVALID, 0};
    std::vector<CUmemLocation> accessed_by;
    CUmemLocation last_prefetch{CU_MEM_LOCATION_TYPE_INVALID, 0};
  };

  // A managed allocation of `bytes` on `device` for server context `context`, attached as `flags`
  // says (CU_MEM_ATTACH_GLOBAL or CU_MEM_ATTACH_HOST); *ptr is valid on the host and on the device.
  CUresult Allocate(std::uint64_t context, CUdevice device, std::size_t bytes, unsigned flags,
                    CUdeviceptr* ptr);
  // Frees the allocation starting at `ptr`. False when `ptr` starts no managed allocation.
  bool Free(CUdeviceptr ptr, CUresult* result);

  // A module's __managed__ variable at [ptr, ptr + bytes) (cuLibraryGetManaged): device memory the
  // module owns, given a host view at the same address. Pages it shares with other variables share
  // their arena; only the variables' bytes are ever copied.
  CUresult AdoptVariable(std::uint64_t context, CUdeviceptr ptr, std::size_t bytes);
  // Frees every allocation of server context `context` (destroyed or reset); returns their addresses.
  std::vector<CUdeviceptr> ForgetContext(std::uint64_t context);

  // Whether [ptr, ptr + bytes) lies in managed memory (one relaxed load while there is none).
  bool Contains(std::uintptr_t ptr, std::size_t bytes = 1) const;
  // The managed allocation holding `ptr`.
  bool Find(CUdeviceptr ptr, CUdeviceptr* base, std::size_t* bytes) const;
  // cuStreamAttachMemAsync of the allocation starting at `ptr` to stream `wire` of `context`
  // (CU_MEM_ATTACH_SINGLE), to every stream (GLOBAL) or to the host (HOST). False when `ptr` starts
  // no managed allocation.
  bool Attach(CUdeviceptr ptr, unsigned flags, std::uint64_t context, std::uint64_t wire);

  // Before device work is sent on stream `wire` of `context`: what the host wrote to the memory that
  // work may use goes to the device, and the host's view of it closes.
  CUresult BeforeDeviceWork(std::uint64_t context, std::uint64_t wire);
  // Before a copy or memset that names [ptr, ptr + bytes): the same for that range, however attached.
  CUresult BeforeDeviceAccess(std::uintptr_t ptr, std::size_t bytes);
  // cuMemPrefetchAsync to the host: the next fault in [ptr, ptr + bytes) fetches all of it at once.
  void PrefetchToHost(CUdeviceptr ptr, std::size_t bytes);

  // The advice of the allocation holding [ptr, ptr + bytes); false when that is not one allocation.
  bool WithAdvice(CUdeviceptr ptr, std::size_t bytes, const std::function<void(Advice*)>& use);

  // The SIGSEGV handler's part: true when `address` was managed memory the host may now use.
  bool HandleFault(const void* address, bool write);

 private:
  enum class Block : std::uint8_t { kDevice, kClean, kDirty };
  struct Arena {
    CUdeviceptr base = 0;
    std::size_t bytes = 0;
    std::uint64_t context = 0;
    int fd = -1;
    char* alias = nullptr;  // the memfd mapped again, always readable and writable
    std::size_t block_bytes = 0;
    std::vector<Block> blocks;
    std::size_t open = 0;  // blocks not kDevice
    bool shared = false;   // small allocations are placed in it
    // A module's __managed__ variables (AdoptVariable): device memory of ours in name only, and of it
    // only `valid` (offset, bytes) is the variables' (the rest of their pages is not to be copied).
    bool foreign = false;
    std::vector<std::pair<std::size_t, std::size_t>> valid;
    pid_t owner = 0;  // the process that made it (not a forked child)
    // Read-ahead: the block after the last fetch, and how many blocks the last fault fetched.
    std::size_t fetched_end = 0, read_ahead = 1;
    // A prefetch to the host: the range the next fault fetches whole (empty when none).
    std::size_t prefetch_begin = 0, prefetch_end = 0;
  };
  struct Allocation {
    Arena* arena = nullptr;
    std::size_t bytes = 0;
    unsigned attach = CU_MEM_ATTACH_GLOBAL;
    bool variable = false;  // a __managed__ variable: the module frees it, never cuMemFree
    std::uint64_t attach_context = 0, attach_wire = 0;  // CU_MEM_ATTACH_SINGLE: the stream
    Advice advice;
  };

  ManagedMemory() = default;
  static int Protection(Block state);  // the program's mapping of a block in `state`
  CUresult NewArena(std::uint64_t context, CUdevice device, std::size_t bytes, bool shared, Arena** arena);
  // The second mapping of an arena whose program view is mapped, and what a fork does with both;
  // false when the alias cannot be made.
  bool MapAlias(Arena* arena);
  // Calls copy(offset, bytes) for each part of [begin, end) of `arena` that may be copied: all of it,
  // or in a foreign arena the variables' bytes.
  template <typename Copy>
  void ForEachCopied(const Arena& arena, std::size_t begin, std::size_t end, Copy copy) const;
  CUresult DestroyArena(Arena* arena);
  // Where `bytes` (whole pages) fit between the arena's allocations (allocations_), first fit.
  bool PlaceLocked(const Arena& arena, std::size_t bytes, std::size_t* offset) const;
  // Makes [offset, offset + bytes) of `arena` zero on both sides and the host's (kDirty).
  void ZeroLocked(Arena* arena, std::size_t offset, std::size_t bytes);
  Arena* ArenaLocked(std::uintptr_t address) const;
  // Moves blocks [first, last) of `arena` to `state`, changing the program's mapping to match.
  void SetLocked(Arena* arena, std::size_t first, std::size_t last, Block state);
  // Copies the dirty blocks of [first, last) to the device and closes every block there.
  CUresult FlushLocked(Arena* arena, std::size_t first, std::size_t last);
  // Blocks [*first, *last) covering bytes [offset, offset + bytes) of `arena`.
  void BlocksOf(const Arena& arena, std::size_t offset, std::size_t bytes, std::size_t* first,
                std::size_t* last) const;

  mutable std::mutex mu_;
  std::map<CUdeviceptr, std::unique_ptr<Arena>> arenas_;  // by base
  std::map<CUdeviceptr, Allocation> allocations_;         // by base
  std::atomic<std::size_t> arena_count_{0};
  std::atomic<std::size_t> host_blocks_{0};  // blocks not kDevice, in every arena
  std::once_flag handler_once_;
};

}  // namespace gpupool::client
