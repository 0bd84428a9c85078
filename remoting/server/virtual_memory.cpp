#include "remoting/server/virtual_memory.h"

#include "common/address_ranges.h"

namespace gpupool::server {
namespace {

std::uint64_t SizeOf(const VirtualMemory::Mapping& mapping) {
  return mapping.size;
}

}  // namespace

void VirtualMemory::AddPhysical(std::uint64_t id, const Physical& physical) {
  physicals_[id] = physical;
  if (!physical.imported) physical_bytes_.Add(physical.device, physical.size);
}

const VirtualMemory::Physical* VirtualMemory::Handle(std::uint64_t id) const {
  auto it = physicals_.find(id);
  return it == physicals_.end() || it->second.references == 0 ? nullptr : &it->second;
}

bool VirtualMemory::ForgetIfUnused(std::map<std::uint64_t, Physical>::iterator it) {
  if (it->second.references != 0 || it->second.mappings != 0) return false;
  if (!it->second.imported) physical_bytes_.Remove(it->second.device, it->second.size);
  physicals_.erase(it);
  return true;
}

bool VirtualMemory::Release(std::uint64_t id) {
  auto it = physicals_.find(id);
  if (it == physicals_.end() || it->second.references == 0) return false;
  --it->second.references;
  return ForgetIfUnused(it);
}

bool VirtualMemory::Retain(std::uint64_t ptr, std::uint64_t* id) {
  const Mapping* mapping = MappingAt(ptr);
  if (mapping == nullptr) return false;
  ++physicals_.at(mapping->physical).references;
  *id = mapping->physical;
  return true;
}

bool VirtualMemory::IsReservation(std::uint64_t base, std::uint64_t size) const {
  auto it = reservations_.find(base);
  return it != reservations_.end() && it->second == size;
}

bool VirtualMemory::CanMap(std::uint64_t ptr, std::uint64_t size) const {
  if (size == 0 || ptr > UINT64_MAX - size) return false;
  auto r = RangeHolding(reservations_, ptr, [](std::uint64_t bytes) { return bytes; });
  if (r == reservations_.end() || size > r->second - (ptr - r->first)) return false;
  // No mapping may start inside the range, nor the one before it reach into it.
  auto m = mappings_.lower_bound(ptr);
  if (m != mappings_.end() && m->first - ptr < size) return false;
  return m == mappings_.begin() || std::prev(m)->first + std::prev(m)->second.size <= ptr;
}

void VirtualMemory::AddMapping(std::uint64_t ptr, std::uint64_t size, std::uint64_t id) {
  mappings_[ptr] = Mapping{size, id};
  ++physicals_.at(id).mappings;
}

bool VirtualMemory::WholeMappings(std::uint64_t ptr, std::uint64_t size,
                                  std::vector<std::uint64_t>* bases) const {
  bases->clear();
  auto whole = WholeRanges(mappings_, ptr, size, SizeOf);
  if (!whole) return false;
  for (auto it = whole->first; it != whole->second; ++it) bases->push_back(it->first);
  return true;
}

std::vector<std::uint64_t> VirtualMemory::MappingsIn(std::uint64_t base, std::uint64_t size) const {
  std::vector<std::uint64_t> inside;
  for (auto it = mappings_.lower_bound(base); it != mappings_.end() && it->first - base < size; ++it) {
    inside.push_back(it->first);
  }
  return inside;
}

bool VirtualMemory::RemoveMapping(std::uint64_t base) {
  auto it = mappings_.find(base);
  if (it == mappings_.end()) return false;
  auto physical = physicals_.find(it->second.physical);
  mappings_.erase(it);
  --physical->second.mappings;
  return ForgetIfUnused(physical);
}

const VirtualMemory::Mapping* VirtualMemory::MappingAt(std::uint64_t ptr) const {
  auto it = RangeHolding(mappings_, ptr, SizeOf);
  return it != mappings_.end() ? &it->second : nullptr;
}

}  // namespace gpupool::server
