#include "remoting/client/copy_ring.h"

#include <cuda.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "remoting/client/session.h"

namespace gpupool::client {
namespace {

// How long one wait for the worker lasts before the session's health is looked at again.
constexpr std::chrono::milliseconds kWaitSlice{100};

}  // namespace

Result<std::unique_ptr<CopyRing>> CopyRing::Open(protocol::Connection& conn) {
  GPUPOOL_RETURN_IF_ERROR(conn.SendFrame(protocol::kOpOpenCopyRing, 0, 0, {}));
  int fd = -1;
  GPUPOOL_ASSIGN_OR_RETURN(protocol::FrameHeader header, conn.ReadHeaderWithFd(&fd));
  std::string payload;
  Status read = conn.ReadPayload(header.payload_size, &payload);
  auto geometry = read.ok() ? protocol::DecodeRingGeometry(payload) : Result<protocol::RingGeometry>(read);
  auto fail = [&](Status why) -> Result<std::unique_ptr<CopyRing>> {
    if (fd >= 0) ::close(fd);
    return why;
  };
  if (!geometry.ok()) return fail(geometry.status());
  if (header.opcode != protocol::kOpOpenCopyRing || (header.flags & protocol::kFlagReply) == 0)
    return fail(Status::Internal("server answered OpenCopyRing with another frame"));
  if (geometry->status != CUDA_SUCCESS) {  // declined: copies use the socket
    if (fd >= 0) ::close(fd);
    return std::unique_ptr<CopyRing>();
  }
  // This client and the worker are one build: the geometry must be the one both were built with.
  struct stat st {};
  if (fd < 0 || geometry->slots != protocol::kRingSlots || geometry->slot_bytes != protocol::kRingSlotBytes ||
      geometry->header_bytes != protocol::kRingHeaderBytes || ::fstat(fd, &st) != 0 ||
      static_cast<std::size_t>(st.st_size) != protocol::kRingBytes) {
    return fail(Status::Internal("the server's copy ring does not have the expected geometry"));
  }
  void* mapping = ::mmap(nullptr, protocol::kRingBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int error = errno;
  ::close(fd);
  if (mapping == MAP_FAILED)
    return Status::Internal(std::string("mapping the copy ring: ") + std::strerror(error));
  auto* base = static_cast<char*>(mapping);
  return std::unique_ptr<CopyRing>(new CopyRing(mapping, reinterpret_cast<protocol::RingHeader*>(base),
                                                base + protocol::kRingHeaderBytes));
}

CopyRing::~CopyRing() {
  ::munmap(mapping_, protocol::kRingBytes);
}

bool CopyRing::WaitWritable(std::uint32_t seq, Session& session) {
  const std::uint32_t needed = seq - protocol::kRingSlots + 1;  // frames 0 .. seq - kRingSlots
  if (protocol::WaitConsumed(header_, needed, std::chrono::milliseconds(0))) return true;
  session.Flush();
  while (!session.broken()) {
    if (protocol::WaitConsumed(header_, needed, kWaitSlice)) return true;
  }
  return false;
}

}  // namespace gpupool::client
