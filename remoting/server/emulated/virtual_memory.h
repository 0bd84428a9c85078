// VirtualMemory: the emulated device's CUDA virtual memory management (cuMemCreate, cuMemAddressReserve,
// cuMemMap, cuMemSetAccess, ...): physical allocations, address reservations and the mappings between.
//
// A physical allocation is a mappable block of its device's DeviceMemory (device_memory.h): it counts
// against the device's capacity like cuMemAlloc, and its bytes live in the device's memfd. A
// reservation is a range of device addresses from a window of its own (kWindowBase, above every
// GPU's cuMemAlloc range) plus a host "shadow" of the same size, mmap'ed PROT_NONE and MAP_NORESERVE,
// so a reservation costs address space only. Mapping a physical allocation mmaps its memfd range over
// the shadow (MAP_SHARED | MAP_FIXED): adjacent mappings are then contiguous host memory, and one
// allocation mapped twice shows the same bytes at both places. Unmapping puts PROT_NONE anonymous
// memory back. Access rights (cuMemSetAccess) are kept per mapping and device and checked by Resolve;
// the host shadow itself is always readable and writable once mapped.
//
// Handles are reference counted: cuMemCreate gives one reference, cuMemRetainAllocationHandle adds one,
// cuMemRelease drops one. The handle stops being valid when its last reference goes; its memory is
// freed (capacity and pages given back) only when no mapping is left either.
//
// Thread-safety: none; the emulator's state mutex guards every call. Host pointers from Resolve stay
// valid until the mapping behind them is unmapped (after that they fault: do not keep them).
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "remoting/server/emulated/device_memory.h"

namespace gpupool::server::emulated {

struct PhysicalAllocation {
  CUmemGenericAllocationHandle handle = 0;
  CUmemAllocationProp prop{};      // as created (location.id is the device)
  DeviceMemory* memory = nullptr;  // whose capacity it takes (null: another process's memory)
  std::uint64_t offset = 0;        // of its mappable block in memory's memfd
  // Where the bytes are when not in that block: a memfd of its own (owned), for memory that can be
  // exported as a POSIX descriptor or was imported from one or from an interprocess handle.
  int fd = -1;
  std::uint64_t fd_offset = 0;
  bool exportable = false;  // fd holds exactly this allocation: ExportFd may hand it out
  std::uint64_t size = 0;
  unsigned long long references = 1;  // 0: the handle is gone, mappings keep the memory
  unsigned long long mappings = 0;
};

struct Mapping {
  std::uint64_t size = 0;
  PhysicalAllocation* physical = nullptr;
  unsigned long long id = 0;                 // CU_POINTER_ATTRIBUTE_BUFFER_ID
  std::map<int, unsigned long long> access;  // device -> CUmemAccess_flags; absent: PROT_NONE

  // What `device` may do here: a CUmemAccess_flags value, CU_MEM_ACCESS_FLAGS_PROT_NONE when never set.
  unsigned long long Access(int device) const {
    auto it = access.find(device);
    return it != access.end() ? it->second : static_cast<unsigned long long>(CU_MEM_ACCESS_FLAGS_PROT_NONE);
  }
};

struct Reservation {
  std::uint64_t size = 0;
  std::byte* host = nullptr;                // the shadow: device address start + x is host + x
  std::map<CUdeviceptr, Mapping> mappings;  // by start address, disjoint
};

// A device address inside a mapping: the mapping, where it starts, and its reservation.
struct MappedAddress {
  const Mapping* mapping = nullptr;
  CUdeviceptr start = 0;
  CUdeviceptr reservation_start = 0;
  std::uint64_t reservation_size = 0;
};

class VirtualMemory {
 public:
  // CU_MEM_ALLOC_GRANULARITY_MINIMUM and _RECOMMENDED: sizes, addresses and alignments are multiples.
  static constexpr std::uint64_t kGranularity = 2ULL << 20;
  // Reservations' device addresses: 16 TiB from 0x300000000000, past the 16 GPUs' cuMemAlloc ranges
  // (state.cpp: 0x200000000000 + i TiB).
  static constexpr CUdeviceptr kWindowBase = 0x300000000000ULL;
  static constexpr std::uint64_t kWindowBytes = 1ULL << 44;

  VirtualMemory() = default;
  ~VirtualMemory();
  VirtualMemory(const VirtualMemory&) = delete;
  VirtualMemory& operator=(const VirtualMemory&) = delete;

  // A physical allocation of `size` bytes (a multiple of kGranularity) of `memory`'s device under the
  // new handle `handle` (unique, non-zero): CUDA_ERROR_OUT_OF_MEMORY when the device's capacity is spent.
  CUresult Create(DeviceMemory& memory, std::uint64_t size, const CUmemAllocationProp& prop,
                  CUmemGenericAllocationHandle handle);
  // The allocation behind a handle that still has references, or nullptr.
  const PhysicalAllocation* Lookup(CUmemGenericAllocationHandle handle) const;
  // Drops a reference (CUDA_ERROR_INVALID_VALUE for no valid handle).
  CUresult Release(CUmemGenericAllocationHandle handle);
  // The handle of the mapping holding `address`, with one more reference (CUDA_ERROR_INVALID_VALUE: none).
  CUresult Retain(CUdeviceptr address, CUmemGenericAllocationHandle* handle);

  // Reserves `size` bytes at a multiple of `alignment` (a power of two >= kGranularity), at `hint` when
  // that is aligned and free; CUDA_ERROR_OUT_OF_MEMORY when the window or the host address space is full.
  CUresult Reserve(std::uint64_t size, std::uint64_t alignment, CUdeviceptr hint, CUdeviceptr* address);
  // Frees the reservation [address, address + size) exactly, unmapping what is still mapped in it.
  CUresult Free(CUdeviceptr address, std::uint64_t size);
  // Maps the first `size` bytes of `handle`'s allocation at [address, address + size), which must lie in
  // one reservation, clear of other mappings. `id` is the mapping's buffer id. No device has access yet.
  CUresult Map(CUdeviceptr address, std::uint64_t size, CUmemGenericAllocationHandle handle,
               unsigned long long id);
  // Unmaps [address, address + size): whole, adjacent mappings, else CUDA_ERROR_INVALID_VALUE.
  CUresult Unmap(CUdeviceptr address, std::uint64_t size);
  // Gives `device` the access `flags` to the whole mappings making up [address, address + size).
  // CUDA_ERROR_INVALID_VALUE when they do not; nothing changes then.
  CUresult SetAccess(CUdeviceptr address, std::uint64_t size, const CUmemAccessDesc* desc, std::size_t count);

  // A new descriptor for `handle`'s memory (cuMemExportToShareableHandle, POSIX descriptor): only
  // for allocations created with CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR among their handle types
  // (CUDA_ERROR_INVALID_VALUE otherwise), or imported from a descriptor.
  CUresult ExportFd(CUmemGenericAllocationHandle handle, int* fd) const;
  // A physical allocation of the memory behind `fd` (cuMemImportFromShareableHandle; the caller keeps
  // `fd`) on `device`, under the new handle `handle`.
  CUresult ImportFd(int fd, int device, CUmemGenericAllocationHandle handle);

  // Memory another process shares (cuIpcOpenMemHandle): `size` bytes at `offset` (page-aligned) of the
  // memfd `fd`, which this object owns from then on (also on failure), mapped read-write for `device`
  // at a new reservation, under the new handle `handle`. Nobody holds a reference: it goes with
  // CloseImport.
  CUresult Import(int fd, std::uint64_t offset, std::uint64_t size, int device,
                  CUmemGenericAllocationHandle handle, CUdeviceptr* address);
  // Unmaps an import and frees its reservation (CUDA_ERROR_INVALID_VALUE: `address` is no import's).
  CUresult CloseImport(CUdeviceptr address);

  // Whether `address` is in the reservation window (reserved or not): device memory for unified copies.
  static bool InWindow(CUdeviceptr address) { return address - kWindowBase < kWindowBytes; }
  // The mapping holding `address`; false when none.
  bool Find(CUdeviceptr address, MappedAddress* found) const;
  // Host memory behind [address, address + bytes): adjacent mappings of one reservation, each giving
  // `device` at least the access `need` (CU_MEM_ACCESS_FLAGS_PROT_READ or _READWRITE); else nullptr.
  std::byte* Resolve(CUdeviceptr address, std::uint64_t bytes, int device, unsigned long long need) const;

 private:
  using Reservations = std::map<CUdeviceptr, Reservation>;
  // The reservation holding [address, address + bytes), or end().
  Reservations::iterator ReservationOf(CUdeviceptr address, std::uint64_t bytes);
  Reservations::const_iterator ReservationOf(CUdeviceptr address, std::uint64_t bytes) const;
  using Mappings = std::map<CUdeviceptr, Mapping>;
  // The mappings that make up [address, address + size) exactly, inside one reservation; nothing when
  // they do not.
  std::optional<std::pair<Mappings::iterator, Mappings::iterator>> WholeMappings(CUdeviceptr address,
                                                                                 std::uint64_t size);
  // Free without the check that `address` is no import.
  CUresult FreeReservation(CUdeviceptr address, std::uint64_t size);
  // Forgets one mapping of `physical`, freeing it when neither references nor mappings are left.
  void DropMapping(PhysicalAllocation* physical);
  void FreeIfUnused(PhysicalAllocation* physical);

  std::map<CUmemGenericAllocationHandle, std::unique_ptr<PhysicalAllocation>> physical_;
  Reservations reservations_;
  std::map<CUdeviceptr, std::uint64_t> imports_;  // import address -> its reservation's size
};

}  // namespace gpupool::server::emulated
