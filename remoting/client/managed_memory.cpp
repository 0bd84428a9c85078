#include "remoting/client/managed_memory.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/address_ranges.h"
#include "common/log.h"
#include "remoting/client/api_support.h"

namespace gpupool::client {

using protocol::Op;

namespace {

// Allocations up to this share arenas; larger ones get their own.
constexpr std::size_t kSharedLimit = std::size_t{1} << 20;
// Blocks are at least this large (a fault moves one block), and an arena has at most kMaxBlocks of
// them, so the program's mapping never splits into more areas than the kernel allows a process.
constexpr std::size_t kMinBlock = std::size_t{64} << 10;
constexpr std::size_t kMaxBlocks = 2048;
// Addresses the worker reserves that are taken in this process are tried again this often.
constexpr int kReserveTries = 8;
// The most a fault fetches when the program walks a buffer block after block.
constexpr std::size_t kMaxReadAhead = std::size_t{4} << 20;

std::size_t PageSize() {
  static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

std::size_t RoundUp(std::size_t n, std::size_t unit) {
  return (n + unit - 1) / unit * unit;
}

// Calls run(begin, end) for each longest run of blocks in [first, last) that `match` accepts, each
// found before `run` is called (which may change the blocks' states).
template <typename Blocks, typename Match, typename Run>
void ForEachRun(const Blocks& blocks, std::size_t first, std::size_t last, Match match, Run run) {
  for (std::size_t b = first; b < last;) {
    if (!match(blocks[b])) {
      ++b;
      continue;
    }
    std::size_t end = b;
    while (end < last && match(blocks[end])) ++end;
    run(b, end);
    b = end;
  }
}

// Maps `fd` (`bytes` of it) at exactly `base`, PROT_NONE; false when this process has something there.
bool MapAt(int fd, CUdeviceptr base, std::size_t bytes) {
  void* want = reinterpret_cast<void*>(base);
  void* got = mmap(want, bytes, PROT_NONE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
  if (got == want) return true;
  if (got != MAP_FAILED) munmap(got, bytes);  // a kernel without MAP_FIXED_NOREPLACE moved it
  return false;
}

// Written with write(2): a fault handler must not use stdio, whose locks the program may hold.
[[noreturn]] void DieInHandler(const char* why) {
  char line[320];
  const int n =
      std::snprintf(line, sizeof line, "gpupool: the program touched managed memory that %s\n", why);
  if (n > 0) (void)!write(STDERR_FILENO, line, std::min(static_cast<std::size_t>(n), sizeof line - 1));
  std::abort();
}

struct sigaction g_previous;

void OnFault(int signal, siginfo_t* info, void* context) {
  // The interrupted code may be about to read errno; the fetch's system calls must not change it.
  const int saved_errno = errno;
  bool write = false;
#if defined(__x86_64__)
  // The page fault's error code: bit 1 is set for a write.
  write = (static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_ERR] & 2) != 0;
#endif
  // si_code > 0: the kernel raised it for this access (not kill(2) or raise(3)).
  if (info->si_code > 0 && ManagedMemory::Get().HandleFault(info->si_addr, write)) {
    errno = saved_errno;
    return;
  }
  errno = saved_errno;
  if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
    g_previous.sa_sigaction(signal, info, context);
    return;
  }
  if ((g_previous.sa_flags & SA_SIGINFO) == 0 && g_previous.sa_handler != SIG_DFL &&
      g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(signal);
    return;
  }
  // No handler before ours: the access is retried without one and ends the program as it would have.
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigaction(SIGSEGV, &fallback, nullptr);
}

void InstallFaultHandler() {
  struct sigaction action {};
  action.sa_sigaction = OnFault;
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGSEGV, &action, &g_previous) != 0) {
    GPUPOOL_LOG(kError) << "managed memory: cannot install the SIGSEGV handler: " << std::strerror(errno);
  }
}

}  // namespace

int ManagedMemory::Protection(Block state) {
  switch (state) {
    case Block::kDevice: return PROT_NONE;
    case Block::kClean: return PROT_READ;
    case Block::kDirty: return PROT_READ | PROT_WRITE;
  }
  return PROT_NONE;
}

ManagedMemory& ManagedMemory::Get() {
  // Never destroyed: atexit handlers may free memory. A forked child has no managed memory (its pages
  // are not inherited): every call there answers at once, before the lock a thread of the parent
  // may have held at the fork.
  static ManagedMemory* memory = [] {
    auto* made = new ManagedMemory;
    pthread_atfork(nullptr, nullptr, [] {
      ManagedMemory& m = Get();
      m.arena_count_.store(0, std::memory_order_relaxed);
      m.host_blocks_.store(0, std::memory_order_relaxed);
    });
    return made;
  }();
  return *memory;
}

CUresult ManagedMemory::NewArena(std::uint64_t context, CUdevice device, std::size_t bytes, bool shared,
                                 Arena** out) {
  protocol::Call<Op::MemGetAllocationGranularity>::Reply granularity_reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemGetAllocationGranularity>(
      0, {device, static_cast<std::uint32_t>(CU_MEM_ALLOC_GRANULARITY_MINIMUM)}, &granularity_reply));
  const std::size_t granularity = std::max<std::size_t>(std::get<0>(granularity_reply), PageSize());
  auto arena = std::make_unique<Arena>();
  arena->bytes = RoundUp(bytes, granularity);
  arena->context = context;
  arena->shared = shared;
  arena->fd = memfd_create("gpupool-managed", MFD_CLOEXEC);
  if (arena->fd < 0 || ftruncate(arena->fd, static_cast<off_t>(arena->bytes)) != 0) {
    GPUPOOL_LOG(kError) << "managed memory: cannot make " << arena->bytes
                        << " bytes of host memory: " << std::strerror(errno);
    if (arena->fd >= 0) close(arena->fd);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  // The worker picks the address; this process must be able to map the same one. A taken address is
  // kept reserved until another is found, so the worker does not offer it again.
  std::vector<CUdeviceptr> taken;
  CUresult result = CUDA_ERROR_OUT_OF_MEMORY;
  for (int attempt = 0; attempt < kReserveTries; ++attempt) {
    protocol::Call<Op::MemAddressReserve>::Reply reserved;
    result = Rpc<Op::MemAddressReserve>(0, {arena->bytes, granularity, 0}, &reserved);
    if (result != CUDA_SUCCESS) break;
    const CUdeviceptr base = std::get<0>(reserved);
    if (MapAt(arena->fd, base, arena->bytes)) {
      arena->base = base;
      break;
    }
    taken.push_back(base);
    result = CUDA_ERROR_OUT_OF_MEMORY;
  }
  for (CUdeviceptr base : taken) (void)Rpc<Op::MemAddressFree>(0, {base, arena->bytes});
  if (arena->base == 0) {
    if (result == CUDA_ERROR_OUT_OF_MEMORY && !taken.empty()) {
      GPUPOOL_LOG(kError) << "managed memory: every address the GPU offered is taken in this process";
    }
    close(arena->fd);
    return result;
  }
  // The device memory behind the addresses: made, mapped, made accessible; the mapping keeps it.
  protocol::Call<Op::MemCreate>::Reply created;
  result = MapAlias(arena.get()) ? Rpc<Op::MemCreate>(0, {arena->bytes, device, 0}, &created)
                                 : CUDA_ERROR_OUT_OF_MEMORY;
  bool mapped = false;
  if (result == CUDA_SUCCESS) {
    const std::uint64_t handle = std::get<0>(created);
    result = Rpc<Op::MemMap>(0, {arena->base, arena->bytes, 0, handle});
    mapped = result == CUDA_SUCCESS;
    (void)Rpc<Op::MemRelease>(0, {handle});
  }
  if (result == CUDA_SUCCESS) {
    result = Rpc<Op::MemSetAccess>(0, {arena->base,
                                       arena->bytes,
                                       {device},
                                       {static_cast<std::int32_t>(CU_MEM_ACCESS_FLAGS_PROT_READWRITE)}});
  }
  if (result != CUDA_SUCCESS) {
    if (mapped) (void)Rpc<Op::MemUnmap>(0, {arena->base, arena->bytes});
    (void)Rpc<Op::MemAddressFree>(0, {arena->base, arena->bytes});
    munmap(reinterpret_cast<void*>(arena->base), arena->bytes);
    if (arena->alias != nullptr) munmap(arena->alias, arena->bytes);
    close(arena->fd);
    return result;
  }
  // Shared arenas: a block per page, so no block holds two allocations (each may be attached to a
  // different stream, or to the host, and is handed over alone).
  arena->block_bytes = shared ? PageSize() : std::max(kMinBlock, std::bit_ceil(arena->bytes / kMaxBlocks));
  arena->block_bytes = RoundUp(arena->block_bytes, PageSize());
  arena->blocks.assign((arena->bytes + arena->block_bytes - 1) / arena->block_bytes, Block::kDevice);
  std::call_once(handler_once_, InstallFaultHandler);
  *out = arena.get();
  arenas_[arena->base] = std::move(arena);
  arena_count_.fetch_add(1, std::memory_order_release);
  return CUDA_SUCCESS;
}

bool ManagedMemory::MapAlias(Arena* arena) {
  void* alias = mmap(nullptr, arena->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, arena->fd, 0);
  arena->alias = alias == MAP_FAILED ? nullptr : static_cast<char*>(alias);
  // A forked child does not inherit managed memory, as with CUDA's own (its pages are not copied):
  // there its addresses fault like any unmapped ones, instead of sharing the parent's bytes.
  (void)madvise(reinterpret_cast<void*>(arena->base), arena->bytes, MADV_DONTFORK);
  if (arena->alias != nullptr) (void)madvise(arena->alias, arena->bytes, MADV_DONTFORK);
  arena->owner = getpid();
  return arena->alias != nullptr;
}

CUresult ManagedMemory::AdoptVariable(std::uint64_t context, CUdeviceptr ptr, std::size_t bytes) {
  if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(mu_);
  if (allocations_.count(ptr) != 0) return CUDA_SUCCESS;  // asked again
  const std::size_t page = PageSize();
  const CUdeviceptr first = ptr / page * page, last = RoundUp(ptr + bytes, page);
  // The pages no arena covers yet, a run at a time, each an arena of one block per page.
  for (CUdeviceptr at = first; at < last;) {
    if (const Arena* covering = ArenaLocked(at)) {
      at = covering->base + covering->bytes;
      continue;
    }
    CUdeviceptr end = last;
    if (auto next = arenas_.upper_bound(at); next != arenas_.end() && next->first < last) end = next->first;
    auto arena = std::make_unique<Arena>();
    arena->base = at;
    arena->bytes = end - at;
    arena->context = context;
    arena->foreign = true;
    arena->fd = memfd_create("gpupool-managed-variables", MFD_CLOEXEC);
    if (arena->fd < 0 || ftruncate(arena->fd, static_cast<off_t>(arena->bytes)) != 0 ||
        !MapAt(arena->fd, at, arena->bytes)) {
      GPUPOOL_LOG(kError) << "managed memory: cannot give the __managed__ variable at 0x" << std::hex << ptr
                          << std::dec << " a host view at its address: " << std::strerror(errno);
      if (arena->fd >= 0) close(arena->fd);
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (!MapAlias(arena.get())) {
      munmap(reinterpret_cast<void*>(at), arena->bytes);
      close(arena->fd);
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
    arena->block_bytes = page;
    arena->blocks.assign(arena->bytes / page, Block::kDevice);  // the module's initial values are there
    std::call_once(handler_once_, InstallFaultHandler);
    arenas_[at] = std::move(arena);
    arena_count_.fetch_add(1, std::memory_order_release);
    at = end;
  }
  // The variable's bytes in each arena it lies in: only those are ever copied.
  for (CUdeviceptr at = ptr; at < ptr + bytes;) {
    Arena* arena = ArenaLocked(at);
    const std::size_t end = std::min<std::uintptr_t>(ptr + bytes, arena->base + arena->bytes);
    arena->valid.emplace_back(at - arena->base, end - at);
    at = end;
  }
  Allocation variable;
  variable.arena = ArenaLocked(ptr);
  variable.bytes = bytes;
  variable.variable = true;
  allocations_[ptr] = variable;
  return CUDA_SUCCESS;
}

template <typename Copy>
void ManagedMemory::ForEachCopied(const Arena& arena, std::size_t begin, std::size_t end, Copy copy) const {
  if (!arena.foreign) {
    copy(begin, end - begin);
    return;
  }
  for (const auto& [offset, bytes] : arena.valid) {
    const std::size_t lo = std::max(offset, begin), hi = std::min(offset + bytes, end);
    if (lo < hi) copy(lo, hi - lo);
  }
}

CUresult ManagedMemory::DestroyArena(Arena* arena) {
  host_blocks_ -= arena->open;
  munmap(reinterpret_cast<void*>(arena->base), arena->bytes);
  munmap(arena->alias, arena->bytes);
  close(arena->fd);
  const CUdeviceptr base = arena->base;
  const std::size_t bytes = arena->bytes;
  const bool foreign = arena->foreign;
  arenas_.erase(base);
  arena_count_.fetch_sub(1, std::memory_order_release);
  if (foreign) return CUDA_SUCCESS;  // the module's memory: it goes with the module
  CUresult result = Rpc<Op::MemUnmap>(0, {base, bytes});
  const CUresult freed = Rpc<Op::MemAddressFree>(0, {base, bytes});
  return result != CUDA_SUCCESS ? result : freed;
}

bool ManagedMemory::PlaceLocked(const Arena& arena, std::size_t bytes, std::size_t* offset) const {
  std::size_t start = 0;  // first fit between the arena's allocations (each takes whole pages)
  for (auto it = allocations_.lower_bound(arena.base);
       it != allocations_.end() && it->first < arena.base + arena.bytes; ++it) {
    if (it->first - arena.base - start >= bytes) break;
    start = it->first - arena.base + RoundUp(it->second.bytes, PageSize());
  }
  if (start + bytes > arena.bytes) return false;
  *offset = start;
  return true;
}

void ManagedMemory::BlocksOf(const Arena& arena, std::size_t offset, std::size_t bytes, std::size_t* first,
                             std::size_t* last) const {
  *first = offset / arena.block_bytes;
  *last = std::min((offset + bytes + arena.block_bytes - 1) / arena.block_bytes, arena.blocks.size());
}

void ManagedMemory::ZeroLocked(Arena* arena, std::size_t offset, std::size_t bytes) {
  // A hole reads as zeros, and FlushLocked makes the device's bytes under a hole zero too.
  if (fallocate(arena->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                static_cast<off_t>(bytes)) != 0) {
    std::memset(arena->alias + offset, 0, bytes);  // no hole punching here: written zeros are copied
  }
  std::size_t first = 0, last = 0;
  BlocksOf(*arena, offset, bytes, &first, &last);
  SetLocked(arena, first, last, Block::kDirty);
}

CUresult ManagedMemory::Allocate(std::uint64_t context, CUdevice device, std::size_t bytes, unsigned flags,
                                 CUdeviceptr* ptr) {
  const std::size_t rounded = RoundUp(bytes, PageSize());
  std::lock_guard<std::mutex> lock(mu_);
  Arena* arena = nullptr;
  std::size_t offset = 0;
  if (rounded <= kSharedLimit) {
    for (auto& [base, candidate] : arenas_) {
      if (candidate->shared && candidate->context == context && candidate->owner == getpid() &&
          PlaceLocked(*candidate, rounded, &offset)) {
        arena = candidate.get();
        break;
      }
    }
    if (arena == nullptr)
      GPUPOOL_CU_RETURN_IF_ERROR(NewArena(context, device, 2 * kSharedLimit, true, &arena));
  } else {
    GPUPOOL_CU_RETURN_IF_ERROR(NewArena(context, device, rounded, false, &arena));
  }
  *ptr = arena->base + offset;
  Allocation allocation;
  allocation.arena = arena;
  allocation.bytes = bytes;
  allocation.attach = flags;
  allocations_[*ptr] = allocation;
  ZeroLocked(arena, offset, rounded);
  return CUDA_SUCCESS;
}

bool ManagedMemory::Free(CUdeviceptr ptr, CUresult* result) {
  if (arena_count_.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = allocations_.find(ptr);
  if (it == allocations_.end()) return false;
  if (it->second.variable) {
    *result = CUDA_ERROR_INVALID_VALUE;  // a __managed__ variable is the module's
    return true;
  }
  Arena* arena = it->second.arena;
  std::size_t first = 0, last = 0;
  BlocksOf(*arena, ptr - arena->base, it->second.bytes, &first, &last);
  SetLocked(arena, first, last, Block::kDevice);  // closed: nothing of it is handed over again
  allocations_.erase(it);
  const auto next = allocations_.lower_bound(arena->base);
  const bool empty = next == allocations_.end() || next->first >= arena->base + arena->bytes;
  *result = empty ? DestroyArena(arena) : CUDA_SUCCESS;
  return true;
}

std::vector<CUdeviceptr> ManagedMemory::ForgetContext(std::uint64_t context) {
  std::vector<CUdeviceptr> freed;
  if (arena_count_.load(std::memory_order_acquire) == 0) return freed;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = allocations_.begin(); it != allocations_.end();) {
    if (it->second.arena->context != context) {
      ++it;
      continue;
    }
    freed.push_back(it->first);
    it = allocations_.erase(it);
  }
  std::vector<Arena*> doomed;
  for (auto& [base, arena] : arenas_) {
    if (arena->context == context) doomed.push_back(arena.get());
  }
  for (Arena* arena : doomed) (void)DestroyArena(arena);  // the worker may have ended the memory already
  return freed;
}

bool ManagedMemory::Attach(CUdeviceptr ptr, unsigned flags, std::uint64_t context, std::uint64_t wire) {
  if (arena_count_.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = allocations_.find(ptr);
  if (it == allocations_.end()) return false;
  it->second.attach = flags;
  it->second.attach_context = context;
  it->second.attach_wire = wire;
  return true;
}

ManagedMemory::Arena* ManagedMemory::ArenaLocked(std::uintptr_t address) const {
  auto it = RangeHolding(arenas_, address, [](const std::unique_ptr<Arena>& a) { return a->bytes; });
  return it == arenas_.end() ? nullptr : it->second.get();
}

bool ManagedMemory::Contains(std::uintptr_t ptr, std::size_t bytes) const {
  if (arena_count_.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard<std::mutex> lock(mu_);
  const Arena* arena = ArenaLocked(ptr);
  return arena != nullptr && bytes <= arena->bytes - (ptr - arena->base);
}

bool ManagedMemory::Find(CUdeviceptr ptr, CUdeviceptr* base, std::size_t* bytes) const {
  if (arena_count_.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = RangeHolding(allocations_, ptr, [](const Allocation& a) { return a.bytes; });
  if (it == allocations_.end()) return false;
  if (base != nullptr) *base = it->first;
  if (bytes != nullptr) *bytes = it->second.bytes;
  return true;
}

bool ManagedMemory::WithAdvice(CUdeviceptr ptr, std::size_t bytes, const std::function<void(Advice*)>& use) {
  if (arena_count_.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = RangeHolding(allocations_, ptr, [](const Allocation& a) { return a.bytes; });
  if (it == allocations_.end() || bytes > it->second.bytes - (ptr - it->first)) return false;
  use(&it->second.advice);
  return true;
}

void ManagedMemory::SetLocked(Arena* arena, std::size_t first, std::size_t last, Block state) {
  const bool open = state != Block::kDevice;
  bool refused = false;
  ForEachRun(
      arena->blocks, first, last, [state](Block b) { return b != state; },
      [&](std::size_t begin, std::size_t end) {
        const std::size_t begin_byte = begin * arena->block_bytes;
        const std::size_t end_byte = std::min(end * arena->block_bytes, arena->bytes);
        // Only a kernel out of memory areas refuses; those blocks keep their state and protection.
        if (refused || mprotect(reinterpret_cast<void*>(arena->base + begin_byte), end_byte - begin_byte,
                                Protection(state)) != 0) {
          if (!refused) {
            GPUPOOL_LOG_ONCE(kError, "managed mprotect")
                << "managed memory: mprotect failed: " << std::strerror(errno);
          }
          refused = true;
          return;
        }
        for (std::size_t b = begin; b < end; ++b) {
          const bool was_open = arena->blocks[b] != Block::kDevice;
          if (was_open && !open) {
            --arena->open;
            host_blocks_.fetch_sub(1, std::memory_order_relaxed);
          }
          if (!was_open && open) {
            ++arena->open;
            host_blocks_.fetch_add(1, std::memory_order_relaxed);
          }
          arena->blocks[b] = state;
        }
      });
}

CUresult ManagedMemory::FlushLocked(Arena* arena, std::size_t first, std::size_t last) {
  CUresult result = CUDA_SUCCESS;
  bool zeroed = false;
  auto note = [&result](CUresult r) {
    if (r != CUDA_SUCCESS && result == CUDA_SUCCESS) result = r;
  };
  ForEachRun(
      arena->blocks, first, last, [](Block b) { return b == Block::kDirty; },
      [&](std::size_t begin, std::size_t end) {
        // Read-only first: a thread that writes meanwhile waits in the fault handler until the
        // bytes are on the device, then writes into a fresh copy, so its write is never lost.
        SetLocked(arena, begin, end, Block::kClean);
        if (arena->foreign) {  // the variables' bytes, nothing else of their pages
          ForEachCopied(*arena, begin * arena->block_bytes, end * arena->block_bytes,
                        [&](std::size_t offset, std::size_t n) {
                          note(CopyHostToDevice(arena->context, arena->base + offset, arena->alias + offset,
                                                n, 0, false));
                        });
          return;
        }
        const off_t end_byte = static_cast<off_t>(std::min(end * arena->block_bytes, arena->bytes));
        // The written pages are copied (synchronously: the bytes are on the device before any
        // later work of any stream is sent); the holes, never written since they were zeroed,
        // are memset.
        for (off_t at = static_cast<off_t>(begin * arena->block_bytes); at < end_byte;) {
          off_t data = lseek(arena->fd, at, SEEK_DATA);
          if (data < 0 && errno != ENXIO) data = at;  // no hole finding here: copy it all
          if (data < 0 || data > end_byte) data = end_byte;
          off_t hole = data < end_byte ? lseek(arena->fd, data, SEEK_HOLE) : end_byte;
          if (hole < 0 || hole > end_byte) hole = end_byte;
          if (data > at) {
            note(Rpc<Op::MemsetD8>(arena->context, {arena->base + static_cast<std::size_t>(at), 0,
                                                    static_cast<std::uint64_t>(data - at), 0}));
            zeroed = true;
          }
          if (hole > data) {
            note(CopyHostToDevice(arena->context, arena->base + static_cast<std::size_t>(data),
                                  arena->alias + data, static_cast<std::size_t>(hole - data), 0, false));
          }
          at = hole;
        }
      });
  // The memsets are asynchronous: done before the work this hands memory to is sent.
  if (zeroed) note(RpcPastLatched<Op::StreamSynchronize>(arena->context, {0}));
  SetLocked(arena, first, last, Block::kDevice);
  return result;
}

CUresult ManagedMemory::BeforeDeviceWork(std::uint64_t context, std::uint64_t wire) {
  if (host_blocks_.load(std::memory_order_acquire) == 0) return CUDA_SUCCESS;
  std::lock_guard<std::mutex> lock(mu_);
  CUresult result = CUDA_SUCCESS;
  for (auto& [base, arena] : arenas_) {
    if (arena->open == 0) continue;
    if (arena->foreign) {  // __managed__ variables are attached globally
      const CUresult r = FlushLocked(arena.get(), 0, arena->blocks.size());
      if (r != CUDA_SUCCESS && result == CUDA_SUCCESS) result = r;
      continue;
    }
    for (auto it = allocations_.lower_bound(base);
         it != allocations_.end() && it->first - base < arena->bytes; ++it) {
      const Allocation& a = it->second;
      const bool used =
          a.attach == CU_MEM_ATTACH_GLOBAL ||
          (a.attach == CU_MEM_ATTACH_SINGLE && a.attach_context == context && a.attach_wire == wire);
      if (!used) continue;
      std::size_t first = 0, last = 0;
      BlocksOf(*arena, it->first - base, a.bytes, &first, &last);
      const CUresult r = FlushLocked(arena.get(), first, last);
      if (r != CUDA_SUCCESS && result == CUDA_SUCCESS) result = r;
    }
  }
  return result;
}

CUresult ManagedMemory::BeforeDeviceAccess(std::uintptr_t ptr, std::size_t bytes) {
  if (host_blocks_.load(std::memory_order_acquire) == 0 || bytes == 0) return CUDA_SUCCESS;
  std::lock_guard<std::mutex> lock(mu_);
  CUresult result = CUDA_SUCCESS;
  const std::uintptr_t end = ptr + bytes < ptr ? UINTPTR_MAX : ptr + bytes;
  // The arena holding ptr, if any, then every one that starts before the range ends.
  auto it = arenas_.upper_bound(ptr);
  if (it != arenas_.begin() && ArenaLocked(ptr) != nullptr) --it;
  for (; it != arenas_.end() && it->first < end; ++it) {
    Arena* arena = it->second.get();
    if (arena->open == 0) continue;
    const std::size_t from = ptr > arena->base ? ptr - arena->base : 0;
    const std::size_t to = std::min<std::uintptr_t>(end - arena->base, arena->bytes);
    std::size_t first = 0, last = 0;
    BlocksOf(*arena, from, to - from, &first, &last);
    const CUresult r = FlushLocked(arena, first, last);
    if (r != CUDA_SUCCESS && result == CUDA_SUCCESS) result = r;
  }
  return result;
}

void ManagedMemory::PrefetchToHost(CUdeviceptr ptr, std::size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  Arena* arena = ArenaLocked(ptr);
  if (arena == nullptr) return;
  arena->prefetch_begin = ptr - arena->base;
  arena->prefetch_end = arena->prefetch_begin + std::min(bytes, arena->bytes - arena->prefetch_begin);
}

bool ManagedMemory::HandleFault(const void* address, bool write) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  if (arena_count_.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard<std::mutex> lock(mu_);
  Arena* arena = ArenaLocked(at);
  if (arena == nullptr || arena->owner != getpid()) return false;  // a forked child has none
  // A copy of gpupool's own read or wrote it as host memory while holding the connection: fetching
  // would wait for that connection for ever. The calls that take managed memory hand it over as
  // device memory first; this is one that does not.
  if (InsideHostCopy())
    DieInHandler("a gpupool copy read as host memory (a call that cannot take managed memory)");
  const std::size_t block = (at - arena->base) / arena->block_bytes;
  switch (arena->blocks[block]) {
    case Block::kDirty: return false;  // open for writing: not a fault managed memory explains
    case Block::kClean: SetLocked(arena, block, block + 1, Block::kDirty); return true;
    case Block::kDevice: break;
  }
  // Fetch the block, or the whole prefetched range holding it, a run of closed blocks at a time. A
  // fault on the block after the last fetch reads ahead: each such fault in a row fetches twice as
  // many blocks, up to kMaxReadAhead bytes, so a program that walks a buffer pays a round trip per
  // few MiB, not per block.
  // Never past the allocation holding the block: another one may be attached to a stream whose kernel
  // is writing it now, and a block fetched then would stay stale.
  std::size_t first = block, last = block + 1;
  std::size_t floor = 0, ceiling = arena->blocks.size();
  const auto holder =
      RangeHolding(allocations_, at, [](const Allocation& a) { return RoundUp(a.bytes, PageSize()); });
  if (holder != allocations_.end() && holder->first >= arena->base) {
    BlocksOf(*arena, holder->first - arena->base, holder->second.bytes, &floor, &ceiling);
  } else {
    ceiling = block + 1;  // outside every allocation: that block alone
  }
  const std::size_t offset = at - arena->base;
  if (arena->prefetch_begin <= offset && offset < arena->prefetch_end) {
    BlocksOf(*arena, arena->prefetch_begin, arena->prefetch_end - arena->prefetch_begin, &first, &last);
    arena->prefetch_begin = arena->prefetch_end = 0;
  } else {
    // At least kMinBlock at a time (a shared arena's blocks are pages), doubling on a walk.
    const std::size_t least = std::max<std::size_t>(1, kMinBlock / arena->block_bytes);
    const std::size_t most = std::max<std::size_t>(least, kMaxReadAhead / arena->block_bytes);
    arena->read_ahead = block == arena->fetched_end ? std::min(arena->read_ahead * 2, most) : least;
    last = block + arena->read_ahead;
  }
  first = std::max(first, floor);
  last = std::min(last, ceiling);
  while (last > block + 1 && arena->blocks[last - 1] != Block::kDevice) --last;
  arena->fetched_end = last;
  ForEachRun(
      arena->blocks, first, last, [](Block b) { return b == Block::kDevice; },
      [&](std::size_t begin, std::size_t end) {
        const std::size_t begin_byte = begin * arena->block_bytes;
        const std::size_t end_byte = std::min(end * arena->block_bytes, arena->bytes);
        // Into the alias: the program's mapping stays closed until every byte is there, so
        // another thread never reads a block half fetched.
        ForEachCopied(*arena, begin_byte, end_byte, [&](std::size_t from, std::size_t n) {
          const CUresult r =
              CopyDeviceToHost(arena->context, arena->alias + from, arena->base + from, n, 0, false);
          if (r != CUDA_SUCCESS) DieInHandler("cannot be fetched from the GPU (the copy failed)");
        });
        SetLocked(arena, begin, end, Block::kClean);
      });
  if (write) SetLocked(arena, block, block + 1, Block::kDirty);
  return true;
}

}  // namespace gpupool::client
