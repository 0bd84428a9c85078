#include "remoting/client/mapped_arena.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "common/log.h"
#include "remoting/protocol/mapped_arena.h"

namespace gpupool::client {

using protocol::kMappedArenaBytes;
using protocol::kMappedArenaPage;

namespace {

// A reservation of the arena's size: address space only.
void* Reserve() {
  void* p = ::mmap(nullptr, kMappedArenaBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

// One OpenMappedArena exchange for `address`: the reply, and the memfd when it came.
Result<protocol::ArenaReply> Ask(protocol::Connection& conn, void* address, int* fd) {
  const std::string request = protocol::EncodeArenaRequest(reinterpret_cast<std::uint64_t>(address));
  GPUPOOL_RETURN_IF_ERROR(conn.SendFrame(protocol::kOpOpenMappedArena, 0, 0, {request}));
  GPUPOOL_ASSIGN_OR_RETURN(protocol::FrameHeader header, conn.ReadHeaderWithFd(fd));
  std::string payload;
  Status read = conn.ReadPayload(header.payload_size, &payload);
  if (read.ok() &&
      (header.opcode != protocol::kOpOpenMappedArena || (header.flags & protocol::kFlagReply) == 0))
    read = Status::Internal("server answered OpenMappedArena with another frame");
  auto reply = read.ok() ? protocol::DecodeArenaReply(payload) : Result<protocol::ArenaReply>(read);
  if (!reply.ok() || reply->status != protocol::ArenaStatus::kReady) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  return reply;
}

}  // namespace

Result<std::unique_ptr<MappedArena>> MappedArena::Open(protocol::Connection& conn) {
  // Reservations the worker could not use stay until the end, so the next one lands elsewhere.
  std::vector<void*> refused;
  auto release = [&refused] {
    for (void* p : refused) ::munmap(p, kMappedArenaBytes);
  };
  for (int attempt = 0; attempt < protocol::kMappedArenaAttempts; ++attempt) {
    void* reservation = Reserve();
    if (reservation == nullptr) break;
    int fd = -1;
    auto reply = Ask(conn, reservation, &fd);
    if (!reply.ok() || reply->status == protocol::ArenaStatus::kDeclined) {
      ::munmap(reservation, kMappedArenaBytes);
      release();
      if (!reply.ok()) return reply.status();
      return std::unique_ptr<MappedArena>();
    }
    if (reply->status == protocol::ArenaStatus::kAddressTaken) {
      refused.push_back(reservation);
      continue;
    }
    struct stat st {};
    void* mapping = MAP_FAILED;
    std::string why = "the worker's arena has an unexpected size";
    if (fd >= 0 && reply->bytes == kMappedArenaBytes && ::fstat(fd, &st) == 0 &&
        static_cast<std::uint64_t>(st.st_size) == kMappedArenaBytes) {
      // Over our own reservation: nothing else of ours can be there.
      mapping = ::mmap(reservation, kMappedArenaBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
      if (mapping == MAP_FAILED) why = std::strerror(errno);
    }
    if (fd >= 0) ::close(fd);
    release();
    if (mapping == MAP_FAILED) {
      ::munmap(reservation, kMappedArenaBytes);
      GPUPOOL_LOG(kWarn) << "mapped host memory is off for this process: mapping the arena: " << why;
      return std::unique_ptr<MappedArena>();
    }
    (void)::madvise(mapping, kMappedArenaBytes, MADV_DONTFORK);
    return std::unique_ptr<MappedArena>(new MappedArena(static_cast<char*>(mapping), reply->limit));
  }
  release();
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
  std::uint64_t offset = static_cast<std::uint64_t>(static_cast<char*>(ptr) - base_);
  std::uint64_t size = rounded;
  std::lock_guard<std::mutex> lock(mu_);
  auto next = free_.lower_bound(offset);
  if (next != free_.end() && offset + size == next->first) {
    size += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto before = std::prev(next);
    if (before->first + before->second == offset) {
      before->second += size;
      return;
    }
  }
  free_.emplace(offset, size);
}

}  // namespace gpupool::client
