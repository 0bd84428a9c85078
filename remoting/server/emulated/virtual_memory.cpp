// VirtualMemory: physical allocations in memfds, reservations as PROT_NONE host shadows, mappings as
// MAP_FIXED mmaps of the memfd over the shadow.
#include "remoting/server/emulated/virtual_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iterator>

#include "common/address_ranges.h"

namespace gpupool::server::emulated {
namespace {

// Inaccessible, unbacked address space: what a reservation's shadow holds where nothing is mapped.
void* Inaccessible(void* at, std::uint64_t bytes) {
  const int fixed = at != nullptr ? MAP_FIXED : 0;
  return mmap(at, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | fixed, -1, 0);
}

// `value` rounded up to a multiple of `alignment` (a power of two); false on overflow.
bool AlignUp(CUdeviceptr value, std::uint64_t alignment, CUdeviceptr* out) {
  if (value > UINT64_MAX - (alignment - 1)) return false;
  *out = (value + alignment - 1) & ~(alignment - 1);
  return true;
}

// A reservation's or a mapping's length (common/address_ranges.h).
template <typename Range>
std::uint64_t SizeOf(const Range& range) {
  return range.size;
}

}  // namespace

VirtualMemory::~VirtualMemory() {
  for (auto& [start, r] : reservations_) munmap(r.host, r.size);
}

CUresult VirtualMemory::Create(DeviceMemory& memory, std::uint64_t size, const CUmemAllocationProp& prop,
                               CUmemGenericAllocationHandle handle) {
  auto physical = std::make_unique<PhysicalAllocation>();
  if (CUresult r = memory.AllocateMappable(size, kGranularity, &physical->offset); r != CUDA_SUCCESS)
    return r;
  if ((prop.requestedHandleTypes & CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) != 0) {
    // Exportable: its bytes in a memfd of its own, which a descriptor can hand to another process
    // (the mappable block still counts its capacity).
    physical->fd = memfd_create("gpupool-emulated-exportable", MFD_CLOEXEC);
    if (physical->fd < 0 || ftruncate(physical->fd, static_cast<off_t>(size)) != 0) {
      if (physical->fd >= 0) close(physical->fd);
      memory.FreeMappable(physical->offset);
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
    physical->exportable = true;
  }
  physical->handle = handle;
  physical->prop = prop;
  physical->memory = &memory;
  physical->size = size;
  physical_.emplace(handle, std::move(physical));
  return CUDA_SUCCESS;
}

const PhysicalAllocation* VirtualMemory::Lookup(CUmemGenericAllocationHandle handle) const {
  auto it = physical_.find(handle);
  return it != physical_.end() && it->second->references > 0 ? it->second.get() : nullptr;
}

CUresult VirtualMemory::Release(CUmemGenericAllocationHandle handle) {
  auto it = physical_.find(handle);
  if (it == physical_.end() || it->second->references == 0) return CUDA_ERROR_INVALID_VALUE;
  --it->second->references;
  FreeIfUnused(it->second.get());
  return CUDA_SUCCESS;
}

CUresult VirtualMemory::Retain(CUdeviceptr address, CUmemGenericAllocationHandle* handle) {
  MappedAddress found;
  if (!Find(address, &found)) return CUDA_ERROR_INVALID_VALUE;
  ++found.mapping->physical->references;  // revives a handle kept alive only by its mappings
  *handle = found.mapping->physical->handle;
  return CUDA_SUCCESS;
}

void VirtualMemory::DropMapping(PhysicalAllocation* physical) {
  --physical->mappings;
  FreeIfUnused(physical);
}

void VirtualMemory::FreeIfUnused(PhysicalAllocation* physical) {
  if (physical->references > 0 || physical->mappings > 0) return;
  if (physical->memory != nullptr) physical->memory->FreeMappable(physical->offset);
  if (physical->fd >= 0) close(physical->fd);
  physical_.erase(physical->handle);
}

CUresult VirtualMemory::Reserve(std::uint64_t size, std::uint64_t alignment, CUdeviceptr hint,
                                CUdeviceptr* address) {
  if (size > kWindowBytes) return CUDA_ERROR_OUT_OF_MEMORY;
  const CUdeviceptr window_end = kWindowBase + kWindowBytes;
  // Whether [start, start + size) is inside the window and clear of every reservation.
  auto fits = [&](CUdeviceptr start) {
    if (start < kWindowBase || start > window_end - size) return false;
    auto next = reservations_.lower_bound(start);
    if (next != reservations_.end() && next->first < start + size) return false;
    if (next == reservations_.begin()) return true;
    auto prev = std::prev(next);
    return prev->first + prev->second.size <= start;
  };
  CUdeviceptr start = 0;
  if (hint == 0 || hint % alignment != 0 || !fits(hint)) {
    // First fit: the lowest aligned gap between reservations.
    if (!AlignUp(kWindowBase, alignment, &start)) return CUDA_ERROR_OUT_OF_MEMORY;
    for (const auto& [at, r] : reservations_) {
      if (start > window_end - size) break;  // past the window's end: fits() says so below
      if (start + size <= at) break;         // the gap before this reservation holds it
      if (at + r.size > start && !AlignUp(at + r.size, alignment, &start)) return CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (!fits(start)) return CUDA_ERROR_OUT_OF_MEMORY;
  } else {
    start = hint;
  }
  void* host = Inaccessible(nullptr, size);
  if (host == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
  reservations_.emplace(start, Reservation{size, static_cast<std::byte*>(host), {}});
  *address = start;
  return CUDA_SUCCESS;
}

CUresult VirtualMemory::Free(CUdeviceptr address, std::uint64_t size) {
  if (imports_.count(address) != 0) return CUDA_ERROR_INVALID_VALUE;  // CloseImport's
  return FreeReservation(address, size);
}

CUresult VirtualMemory::FreeReservation(CUdeviceptr address, std::uint64_t size) {
  auto it = reservations_.find(address);
  if (it == reservations_.end() || it->second.size != size) return CUDA_ERROR_INVALID_VALUE;
  // The shadow goes first: should that fail, nothing has changed.
  if (munmap(it->second.host, size) != 0) return CUDA_ERROR_OUT_OF_MEMORY;
  for (auto& [start, mapping] : it->second.mappings) DropMapping(mapping.physical);
  reservations_.erase(it);
  return CUDA_SUCCESS;
}

VirtualMemory::Reservations::iterator VirtualMemory::ReservationOf(CUdeviceptr address, std::uint64_t bytes) {
  auto it = RangeHolding(reservations_, address, SizeOf<Reservation>);
  return it != reservations_.end() && bytes <= it->second.size - (address - it->first) ? it
                                                                                       : reservations_.end();
}

VirtualMemory::Reservations::const_iterator VirtualMemory::ReservationOf(CUdeviceptr address,
                                                                         std::uint64_t bytes) const {
  return const_cast<VirtualMemory*>(this)->ReservationOf(address, bytes);
}

CUresult VirtualMemory::Map(CUdeviceptr address, std::uint64_t size, CUmemGenericAllocationHandle handle,
                            unsigned long long id) {
  auto found = physical_.find(handle);
  if (found == physical_.end() || found->second->references == 0) return CUDA_ERROR_INVALID_VALUE;
  PhysicalAllocation* physical = found->second.get();
  if (size == 0 || size > physical->size) return CUDA_ERROR_INVALID_VALUE;
  auto it = ReservationOf(address, size);
  if (it == reservations_.end()) return CUDA_ERROR_INVALID_VALUE;
  Reservation& r = it->second;
  auto next = r.mappings.lower_bound(address);
  if (next != r.mappings.end() && next->first < address + size) return CUDA_ERROR_INVALID_VALUE;
  if (next != r.mappings.begin() && std::prev(next)->first + std::prev(next)->second.size > address) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  std::byte* host = r.host + (address - it->first);
  const bool own = physical->fd >= 0;
  void* mapped = mmap(host, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
                      own ? physical->fd : physical->memory->mappable_fd(),
                      static_cast<off_t>(own ? physical->fd_offset : physical->offset));
  if (mapped == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;  // the shadow is unchanged then
  // Huge pages where tmpfs offers them (shmem_enabled=advise); a refusal only costs speed.
  (void)madvise(host, size, MADV_HUGEPAGE);
  r.mappings.emplace(address, Mapping{size, physical, id, {}});
  ++physical->mappings;
  return CUDA_SUCCESS;
}

std::optional<std::pair<VirtualMemory::Mappings::iterator, VirtualMemory::Mappings::iterator>>
VirtualMemory::WholeMappings(CUdeviceptr address, std::uint64_t size) {
  auto it = ReservationOf(address, size);
  if (it == reservations_.end()) return std::nullopt;
  return WholeRanges(it->second.mappings, address, size, SizeOf<Mapping>);
}

CUresult VirtualMemory::Unmap(CUdeviceptr address, std::uint64_t size) {
  auto whole = WholeMappings(address, size);
  if (!whole) return CUDA_ERROR_INVALID_VALUE;
  auto it = ReservationOf(address, size);
  Reservation& r = it->second;
  if (Inaccessible(r.host + (address - it->first), size) == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
  for (auto m = whole->first; m != whole->second; ++m) DropMapping(m->second.physical);
  r.mappings.erase(whole->first, whole->second);
  return CUDA_SUCCESS;
}

CUresult VirtualMemory::SetAccess(CUdeviceptr address, std::uint64_t size, const CUmemAccessDesc* desc,
                                  std::size_t count) {
  auto whole = WholeMappings(address, size);
  if (!whole) return CUDA_ERROR_INVALID_VALUE;
  for (auto m = whole->first; m != whole->second; ++m) {
    for (std::size_t i = 0; i < count; ++i) m->second.access[desc[i].location.id] = desc[i].flags;
  }
  return CUDA_SUCCESS;
}

CUresult VirtualMemory::Import(int fd, std::uint64_t offset, std::uint64_t size, int device,
                               CUmemGenericAllocationHandle handle, CUdeviceptr* address) {
  static const std::uint64_t page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  CUdeviceptr mapped = 0, reserved = 0;
  if (size == 0 || offset % page != 0 || !AlignUp(size, page, &mapped) ||
      !AlignUp(size, kGranularity, &reserved)) {
    close(fd);
    return CUDA_ERROR_INVALID_VALUE;
  }
  auto physical = std::make_unique<PhysicalAllocation>();
  physical->handle = handle;
  physical->prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  physical->prop.location = {CU_MEM_LOCATION_TYPE_DEVICE, device};
  physical->fd = fd;
  physical->fd_offset = offset;
  physical->size = mapped;
  physical_.emplace(handle, std::move(physical));
  CUdeviceptr start = 0;
  CUresult r = Reserve(reserved, kGranularity, 0, &start);
  if (r == CUDA_SUCCESS && (r = Map(start, mapped, handle, 0)) != CUDA_SUCCESS)
    (void)FreeReservation(start, reserved);
  --physical_.at(handle)->references;  // only the mapping keeps it now
  FreeIfUnused(physical_.at(handle).get());
  if (r != CUDA_SUCCESS) return r;
  const CUmemAccessDesc access{{CU_MEM_LOCATION_TYPE_DEVICE, device}, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
  (void)SetAccess(start, mapped, &access, 1);
  imports_.emplace(start, reserved);
  *address = start;
  return CUDA_SUCCESS;
}

CUresult VirtualMemory::ExportFd(CUmemGenericAllocationHandle handle, int* fd) const {
  const PhysicalAllocation* physical = Lookup(handle);
  if (physical == nullptr || !physical->exportable) return CUDA_ERROR_INVALID_VALUE;
  *fd = fcntl(physical->fd, F_DUPFD_CLOEXEC, 0);
  return *fd >= 0 ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult VirtualMemory::ImportFd(int fd, int device, CUmemGenericAllocationHandle handle) {
  struct stat st {};
  // What ExportFd hands out: a memfd of whole granules.
  if (fstat(fd, &st) != 0 || st.st_size <= 0 || static_cast<std::uint64_t>(st.st_size) % kGranularity != 0)
    return CUDA_ERROR_INVALID_VALUE;
  auto physical = std::make_unique<PhysicalAllocation>();
  physical->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (physical->fd < 0) return CUDA_ERROR_OUT_OF_MEMORY;
  physical->handle = handle;
  physical->prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  physical->prop.location = {CU_MEM_LOCATION_TYPE_DEVICE, device};
  physical->prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  physical->size = static_cast<std::uint64_t>(st.st_size);
  physical->exportable = true;
  physical_.emplace(handle, std::move(physical));
  return CUDA_SUCCESS;
}

CUresult VirtualMemory::CloseImport(CUdeviceptr address) {
  auto it = imports_.find(address);
  if (it == imports_.end()) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = FreeReservation(address, it->second); r != CUDA_SUCCESS) return r;
  imports_.erase(it);
  return CUDA_SUCCESS;
}

bool VirtualMemory::Find(CUdeviceptr address, MappedAddress* found) const {
  auto it = ReservationOf(address, 1);
  if (it == reservations_.end()) return false;
  auto m = RangeHolding(it->second.mappings, address, SizeOf<Mapping>);
  if (m == it->second.mappings.end()) return false;
  *found = MappedAddress{&m->second, m->first, it->first, it->second.size};
  return true;
}

std::byte* VirtualMemory::Resolve(CUdeviceptr address, std::uint64_t bytes, int device,
                                  unsigned long long need) const {
  auto it = ReservationOf(address, bytes);
  if (bytes == 0 || it == reservations_.end()) return nullptr;
  const auto& mappings = it->second.mappings;
  auto m = RangeHolding(mappings, address, SizeOf<Mapping>);
  if (m == mappings.end()) return nullptr;  // in no mapping
  // Every mapping from the one holding `address` to the one holding the last byte: adjacent, no gap.
  const CUdeviceptr end = address + bytes;  // no overflow: inside the reservation
  for (CUdeviceptr at = m->first; at < end; at += (m++)->second.size) {
    if (m == mappings.end() || m->first != at || (m->second.Access(device) & need) != need) return nullptr;
  }
  return it->second.host + (address - it->first);
}

}  // namespace gpupool::server::emulated
