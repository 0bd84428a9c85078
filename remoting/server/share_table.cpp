#include "remoting/server/share_table.h"

#include <chrono>
#include <new>

namespace gpupool::server {
namespace {

constexpr std::size_t kBytes = sizeof(ShareSlot) * ShareTable::kSlots;
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared slots must be lock-free");

}  // namespace

Result<ShareTable> ShareTable::Create() {
  GPUPOOL_ASSIGN_OR_RETURN(SharedMemory memory, SharedMemory::Create("gpupool-shares", kBytes));
  new (memory.data()) ShareSlot[kSlots]();
  return ShareTable(std::move(memory));
}

Result<ShareTable> ShareTable::Map(int fd) {
  GPUPOOL_ASSIGN_OR_RETURN(SharedMemory memory, SharedMemory::Map(fd, kBytes));
  return ShareTable(std::move(memory));
}

std::uint32_t ShareTable::Claim(std::uint64_t session, const std::string& gpu_uuid) {
  for (std::uint32_t i = 0; i < kSlots; ++i) {
    std::uint64_t free = 0;
    if (slots_[i].session.load() != 0) continue;
    slots_[i].gpu_key = GpuKey(gpu_uuid);
    slots_[i].active_ns = 0;
    if (slots_[i].session.compare_exchange_strong(free, session)) return i;
  }
  return kNoSlot;
}

void ShareTable::Release(std::uint32_t slot) {
  if (slot >= kSlots) return;
  slots_[slot].active_ns = 0;
  slots_[slot].session = 0;
}

void ShareTable::Touch(std::uint32_t slot, std::uint64_t now_ns) {
  if (slot < kSlots) slots_[slot].active_ns = now_ns;
}

bool ShareTable::OthersActive(std::uint32_t slot, std::uint64_t now_ns, std::uint64_t window_ns) const {
  // Without a slot the worker cannot know who else is there: it assumes it is not alone.
  if (slot >= kSlots) return true;
  const std::uint64_t key = slots_[slot].gpu_key;
  for (std::uint32_t i = 0; i < kSlots; ++i) {
    if (i == slot || slots_[i].session.load() == 0 || slots_[i].gpu_key.load() != key) continue;
    const std::uint64_t active = slots_[i].active_ns;
    if (active != 0 && active + window_ns >= now_ns) return true;
  }
  return false;
}

std::uint64_t ShareTable::GpuKey(const std::string& gpu_uuid) {
  std::uint64_t hash = 1469598103934665603ULL;  // FNV-1a; never 0 in practice, and 0 is not special here
  for (unsigned char c : gpu_uuid) hash = (hash ^ c) * 1099511628211ULL;
  return hash;
}

std::uint64_t ShareTable::NowNs() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace gpupool::server
