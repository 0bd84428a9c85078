#include "remoting/server/session_stats.h"

#include <new>

namespace gpupool::server {

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared counters must be lock-free");

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
