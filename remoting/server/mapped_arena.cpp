#include "remoting/server/mapped_arena.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/address_ranges.h"
#include "common/log.h"
#include "remoting/protocol/mapped_arena.h"
#include "remoting/server/session.h"

namespace gpupool::server {

using protocol::kMappedArenaBytes;
using protocol::kMappedArenaPage;

Result<std::unique_ptr<MappedArena>> MappedArena::Create(std::uint64_t address, std::uint64_t limit) {
  int fd = ::memfd_create("gpupool-mapped-arena", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  auto fail = [&fd](const char* what) -> Status {
    const int error = errno;
    if (fd >= 0) ::close(fd);
    return Status::Internal(std::string(what) + ": " + std::strerror(error));
  };
  if (fd < 0) return fail("memfd for the mapped arena");
  if (::ftruncate(fd, static_cast<off_t>(kMappedArenaBytes)) != 0) return fail("sizing the mapped arena");
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
    return fail("sealing the mapped arena");
  void* want = reinterpret_cast<void*>(address);
  void* p = ::mmap(want, kMappedArenaBytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_FIXED_NOREPLACE | MAP_NORESERVE, fd, 0);
  if (p == MAP_FAILED && errno != EEXIST) return fail("mapping the mapped arena");
  if (p != want) {  // taken; a kernel older than MAP_FIXED_NOREPLACE maps elsewhere instead
    if (p != MAP_FAILED) ::munmap(p, kMappedArenaBytes);
    ::close(fd);
    return Status::AlreadyExists("the address is in use in the worker");
  }
  return std::unique_ptr<MappedArena>(new MappedArena(fd, address, limit));
}

MappedArena::~MappedArena() {
  ::munmap(reinterpret_cast<void*>(base_), kMappedArenaBytes);
  ::close(fd_);
}

CUresult MappedArena::Register(const DriverApi& api, std::uint64_t address, std::uint64_t bytes) {
  if (bytes == 0 || address % kMappedArenaPage != 0 || bytes % kMappedArenaPage != 0 || address < base_ ||
      address - base_ > kMappedArenaBytes || bytes > kMappedArenaBytes - (address - base_)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (Overlaps(registered_, address, bytes, [](std::uint64_t size) { return size; }))
    return CUDA_ERROR_INVALID_VALUE;
  if (bytes > limit_ - registered_bytes_) return CUDA_ERROR_OUT_OF_MEMORY;
  if (api.cuMemHostRegister_v2 == nullptr || api.cuMemHostGetDevicePointer_v2 == nullptr)
    return CUDA_ERROR_NOT_SUPPORTED;
  void* host = reinterpret_cast<void*>(address);
  CUresult r =
      api.cuMemHostRegister_v2(host, bytes, CU_MEMHOSTREGISTER_DEVICEMAP | CU_MEMHOSTREGISTER_PORTABLE);
  if (r != CUDA_SUCCESS) return r;
  CUdeviceptr device = 0;
  r = api.cuMemHostGetDevicePointer_v2(&device, host, 0);
  if (r != CUDA_SUCCESS || device != address) {
    (void)api.cuMemHostUnregister(host);
    GPUPOOL_LOG_ONCE(kWarn, "mapped arena device address")
        << "this GPU maps registered host memory at another address than the program's: mapped host "
           "memory is refused";
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  registered_.emplace(address, bytes);
  registered_bytes_ += bytes;
  return CUDA_SUCCESS;
}

CUresult MappedArena::Unregister(const DriverApi& api, std::uint64_t address, std::uint64_t* bytes) {
  auto it = registered_.find(address);
  if (it == registered_.end()) return CUDA_ERROR_INVALID_VALUE;
  *bytes = it->second;
  const CUresult r = api.cuMemHostUnregister(reinterpret_cast<void*>(address));
  // The pages go back to the kernel whatever the driver said: the range is the program's no more.
  (void)::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(address - base_),
                    static_cast<off_t>(it->second));
  registered_bytes_ -= it->second;
  registered_.erase(it);
  return r;
}

void MappedArena::UnregisterAll(const DriverApi& api) {
  while (!registered_.empty()) {
    std::uint64_t bytes = 0;
    (void)Unregister(api, registered_.begin()->first, &bytes);
  }
}

Status OpenMappedArena(Session& session, protocol::Connection& conn, const protocol::FrameHeader& header,
                       std::string_view payload) {
  if ((header.flags & protocol::kFlagNoReply) != 0)
    return Status::InvalidArgument("OpenMappedArena is answered");
  GPUPOOL_ASSIGN_OR_RETURN(std::uint64_t address, protocol::DecodeArenaRequest(payload));
  auto answer = [&](protocol::ArenaStatus status, int fd) {
    const std::string reply = protocol::EncodeArenaReply({status, kMappedArenaBytes, session.mapped_limit});
    return fd < 0 ? conn.SendFrame(header.opcode, protocol::kFlagReply, header.request_id, {reply})
                  : conn.SendFrameWithFd(header.opcode, protocol::kFlagReply, header.request_id, reply, fd);
  };
  // Beside a copy ring only, which is there only over a plain Unix socket: the descriptor can travel.
  if (session.ring == nullptr || session.mapped_arena != nullptr || session.mapped_limit == 0)
    return answer(protocol::ArenaStatus::kDeclined, -1);
  auto arena = MappedArena::Create(address, session.mapped_limit);
  if (!arena.ok() && arena.status().code() == Code::kAlreadyExists)
    return answer(protocol::ArenaStatus::kAddressTaken, -1);
  if (!arena.ok()) {
    GPUPOOL_LOG(kWarn) << "no mapped host memory for this session: " << arena.status().ToString();
    return answer(protocol::ArenaStatus::kDeclined, -1);
  }
  session.mapped_arena = std::move(*arena);
  GPUPOOL_LOG(kInfo) << "mapped arena shared with the client: up to " << (session.mapped_limit >> 20)
                     << " MiB of pinned host memory for the GPUs";
  return answer(protocol::ArenaStatus::kReady, session.mapped_arena->fd());
}

}  // namespace gpupool::server
