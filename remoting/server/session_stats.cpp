#include "remoting/server/session_stats.h"

#include <new>

namespace gpupool::server {

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared counters must be lock-free");

namespace {

template <typename Field>
std::uint64_t Sum(const SessionStats& s, Field field) {
  std::uint64_t sum = 0;
  for (std::uint32_t i = 0; i < s.gpu_count(); ++i) sum += (s.gpus[i].*field).load();
  return sum;
}

}  // namespace

std::uint64_t SessionStats::MemoryUsed() const {
  return Sum(*this, &SessionGpu::memory_used_bytes);
}
std::uint64_t SessionStats::KernelsLaunched() const {
  return Sum(*this, &SessionGpu::kernels_launched);
}
std::uint64_t SessionStats::BusyNs() const {
  return Sum(*this, &SessionGpu::busy_ns);
}
std::uint64_t SessionStats::BytesToDevice() const {
  return Sum(*this, &SessionGpu::bytes_to_device);
}
std::uint64_t SessionStats::BytesFromDevice() const {
  return Sum(*this, &SessionGpu::bytes_from_device);
}
std::uint64_t SessionStats::MemoryLimit() const {
  for (std::uint32_t i = 0; i < gpu_count(); ++i) {
    if (gpus[i].memory_limit_bytes == 0) return 0;
  }
  return Sum(*this, &SessionGpu::memory_limit_bytes);
}

Result<SharedStats> SharedStats::Create() {
  GPUPOOL_ASSIGN_OR_RETURN(SharedMemory memory,
                           SharedMemory::Create("gpupool-session", sizeof(SessionStats)));
  new (memory.data()) SessionStats();
  return SharedStats(std::move(memory));
}

Result<SharedStats> SharedStats::Map(int fd) {
  GPUPOOL_ASSIGN_OR_RETURN(SharedMemory memory, SharedMemory::Map(fd, sizeof(SessionStats)));
  return SharedStats(std::move(memory));
}

}  // namespace gpupool::server
