#include "remoting/server/session_stats.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <string>

namespace gpupool::server {

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared counters must be lock-free");

Result<SharedStats> SharedStats::Create() {
  SharedStats s;
  s.fd_ = ::memfd_create("gpupool-session", MFD_CLOEXEC);
  if (s.fd_ < 0 || ::ftruncate(s.fd_, sizeof(SessionStats)) != 0) {
    return Status::Internal(std::string("memfd for session stats: ") + std::strerror(errno));
  }
  void* p = ::mmap(nullptr, sizeof(SessionStats), PROT_READ | PROT_WRITE, MAP_SHARED, s.fd_, 0);
  if (p == MAP_FAILED) return Status::Internal(std::string("mmap session stats: ") + std::strerror(errno));
  s.stats_ = new (p) SessionStats();
  return s;
}

Result<SharedStats> SharedStats::Map(int fd) {
  SharedStats s;
  void* p = ::mmap(nullptr, sizeof(SessionStats), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return Status::Internal(std::string("mmap session stats: ") + std::strerror(errno));
  s.fd_ = fd;
  s.stats_ = static_cast<SessionStats*>(p);
  return s;
}

SharedStats::SharedStats(SharedStats&& other) noexcept : fd_(other.fd_), stats_(other.stats_) {
  other.fd_ = -1;
  other.stats_ = nullptr;
}

SharedStats& SharedStats::operator=(SharedStats&& other) noexcept {
  if (this != &other) {
    this->~SharedStats();
    fd_ = other.fd_;
    stats_ = other.stats_;
    other.fd_ = -1;
    other.stats_ = nullptr;
  }
  return *this;
}

SharedStats::~SharedStats() {
  if (stats_ != nullptr) ::munmap(stats_, sizeof(SessionStats));
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace gpupool::server
