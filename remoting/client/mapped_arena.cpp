#include "remoting/client/mapped_arena.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/address_ranges.h"
#include "common/log.h"
#include "remoting/client/shared_region.h"
#include "remoting/protocol/mapped_arena.h"

namespace gpupool::client {

using protocol::kMappedArenaBytes;
using protocol::kMappedArenaPage;

namespace {

// A reservation of the arena's size: address space only. The first where the kernel puts mappings;
// after the worker found that taken, at random arena-aligned addresses between 1 TiB and 64 TiB, since
// the next one down would likely be taken as well (the worker's driver reserves large ranges there).
void* Reserve(int attempt, std::mt19937_64& random) {
  constexpr int kFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
  if (attempt == 0) {
    void* p = ::mmap(nullptr, kMappedArenaBytes, PROT_NONE, kFlags, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }
  std::uniform_int_distribution<std::uint64_t> slot((1ull << 40) / kMappedArenaBytes,
                                                    (64ull << 40) / kMappedArenaBytes - 1);
  for (int tries = 0; tries < 16; ++tries) {
    void* want = reinterpret_cast<void*>(slot(random) * kMappedArenaBytes);
    void* p = ::mmap(want, kMappedArenaBytes, PROT_NONE, kFlags | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == want) return p;
    if (p != MAP_FAILED) ::munmap(p, kMappedArenaBytes);  // a kernel that took it as a hint
  }
  return nullptr;
}

// One OpenMappedArena exchange for `address`: the reply, and in *fd the memfd when it is ready (else
// -1).
Result<protocol::ArenaReply> Ask(protocol::Connection& conn, void* address, int* fd) {
  const std::string request = protocol::EncodeArenaRequest(reinterpret_cast<std::uint64_t>(address));
  GPUPOOL_ASSIGN_OR_RETURN(FdReply answer,
                           ExchangeForFd(conn, protocol::kOpOpenMappedArena, request, "OpenMappedArena"));
  auto reply = protocol::DecodeArenaReply(answer.payload);
  if (reply.ok() && reply->status == protocol::ArenaStatus::kReady) {
    *fd = answer.fd;
  } else if (answer.fd >= 0) {
    ::close(answer.fd);
  }
  return reply;
}

// Address space of the arena's size this process holds while it looks for one the worker can use
// too: unmapped with the object unless Keep() took it.
class Reservation {
 public:
  explicit Reservation(void* base) : base_(base) {}
  ~Reservation() {
    if (base_ != nullptr) ::munmap(base_, kMappedArenaBytes);
  }
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;
  void* base() const { return base_; }
  void* Keep() { return std::exchange(base_, nullptr); }

 private:
  void* base_;
};

}  // namespace

Result<std::unique_ptr<MappedArena>> MappedArena::Open(protocol::Connection& conn) {
  // Reservations the worker could not use stay until the end, so that no later one lands there again.
  std::vector<std::unique_ptr<Reservation>> tried;
  std::mt19937_64 random(std::random_device{}());
  for (int attempt = 0; attempt < protocol::kMappedArenaAttempts; ++attempt) {
    void* base = Reserve(attempt, random);
    if (base == nullptr) break;
    tried.push_back(std::make_unique<Reservation>(base));
    int fd = -1;
    GPUPOOL_ASSIGN_OR_RETURN(protocol::ArenaReply reply, Ask(conn, base, &fd));
    if (reply.status == protocol::ArenaStatus::kDeclined) return std::unique_ptr<MappedArena>();
    if (reply.status == protocol::ArenaStatus::kAddressTaken) continue;
    struct stat st {};
    void* mapping = MAP_FAILED;
    std::string why = "the worker's arena has an unexpected size";
    if (reply.bytes == kMappedArenaBytes && ::fstat(fd, &st) == 0 &&
        static_cast<std::uint64_t>(st.st_size) == kMappedArenaBytes) {
      // Over our own reservation: nothing else of ours can be there.
      mapping = ::mmap(base, kMappedArenaBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
      if (mapping == MAP_FAILED) why = std::strerror(errno);
    }
    ::close(fd);
    if (mapping == MAP_FAILED) {
      GPUPOOL_LOG(kWarn) << "mapped host memory is off for this process: mapping the arena: " << why;
      return std::unique_ptr<MappedArena>();
    }
    (void)::madvise(tried.back()->Keep(), kMappedArenaBytes, MADV_DONTFORK);
    return std::unique_ptr<MappedArena>(new MappedArena(static_cast<char*>(mapping), reply.limit));
  }
  GPUPOOL_LOG(kInfo) << "no address for mapped host memory is free in the worker: pinned memory stays "
                        "unmapped for the GPU";
  return std::unique_ptr<MappedArena>();
}

MappedArena::MappedArena(char* base, std::uint64_t limit) : base_(base), limit_(limit) {
  free_.emplace(0, kMappedArenaBytes);
}

MappedArena::~MappedArena() {
  ::munmap(base_, kMappedArenaBytes);
}

void* MappedArena::Take(std::size_t bytes, std::size_t* rounded) {
  if (bytes == 0 || bytes > kMappedArenaBytes) return nullptr;
  const std::uint64_t need = (bytes + kMappedArenaPage - 1) / kMappedArenaPage * kMappedArenaPage;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < need) continue;
    const auto [offset, size] = *it;
    free_.erase(it);
    if (size > need) free_.emplace(offset + need, size - need);
    *rounded = need;
    return base_ + offset;
  }
  return nullptr;
}

void MappedArena::Give(void* ptr, std::size_t rounded) {
  std::lock_guard<std::mutex> lock(mu_);
  InsertCoalesced(free_, static_cast<std::uint64_t>(static_cast<char*>(ptr) - base_), rounded);
}

}  // namespace gpupool::client
