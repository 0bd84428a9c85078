#include "remoting/server/share_table.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>

namespace gpupool::server {
namespace {

constexpr std::size_t kBytes = sizeof(ShareSlot) * ShareTable::kSlots;
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared slots must be lock-free");

}  // namespace

Result<ShareTable> ShareTable::Create() {
  ShareTable t;
  t.fd_ = ::memfd_create("gpupool-shares", MFD_CLOEXEC);
  if (t.fd_ < 0 || ::ftruncate(t.fd_, kBytes) != 0) {
    return Status::Internal(std::string("memfd for the share table: ") + std::strerror(errno));
  }
  void* p = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED, t.fd_, 0);
  if (p == MAP_FAILED) return Status::Internal(std::string("mmap share table: ") + std::strerror(errno));
  t.slots_ = new (p) ShareSlot[kSlots]();
  return t;
}

Result<ShareTable> ShareTable::Map(int fd) {
  ShareTable t;
  void* p = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return Status::Internal(std::string("mmap share table: ") + std::strerror(errno));
  t.fd_ = fd;
  t.slots_ = static_cast<ShareSlot*>(p);
  return t;
}

ShareTable::ShareTable(ShareTable&& other) noexcept : fd_(other.fd_), slots_(other.slots_) {
  other.fd_ = -1;
  other.slots_ = nullptr;
}

ShareTable& ShareTable::operator=(ShareTable&& other) noexcept {
  if (this != &other) {
    this->~ShareTable();
    fd_ = std::exchange(other.fd_, -1);
    slots_ = std::exchange(other.slots_, nullptr);
  }
  return *this;
}

ShareTable::~ShareTable() {
  if (slots_ != nullptr) ::munmap(slots_, kBytes);
  if (fd_ >= 0) ::close(fd_);
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
