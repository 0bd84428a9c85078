#include "remoting/server/copy_ring.h"

#include <cuda.h>
#include <sys/socket.h>

#include "common/log.h"
#include "remoting/protocol/deferred_staging.h"
#include "remoting/server/session.h"

namespace gpupool::server {
namespace {

bool PlainUnixSocket(const protocol::Connection& conn) {
  int domain = 0;
  socklen_t len = sizeof domain;
  return conn.tls() == nullptr && ::getsockopt(conn.fd(), SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
         domain == AF_UNIX;
}

}  // namespace

Result<std::unique_ptr<CopyRing>> CopyRing::Create() {
  GPUPOOL_ASSIGN_OR_RETURN(SharedMemory memory,
                           SharedMemory::Create("gpupool-copy-ring", protocol::kRingBytes));
  GPUPOOL_RETURN_IF_ERROR(memory.SealSize());
  return std::unique_ptr<CopyRing>(new CopyRing(std::move(memory)));
}

std::byte* CopyRing::Slot(std::uint32_t slot, std::uint64_t size) const {
  if (slot >= protocol::kRingSlots || size > protocol::kRingSlotBytes) return nullptr;
  return static_cast<std::byte*>(memory_.data()) + protocol::kRingHeaderBytes +
         std::size_t{slot} * protocol::kRingSlotBytes;
}

void CopyRing::Consumed() {
  protocol::MarkConsumed(static_cast<protocol::RingHeader*>(memory_.data()));
}

namespace {

// The answer to a request for shared memory: the region's geometry and its memfd, or (fd < 0)
// CUDA_ERROR_NOT_SUPPORTED and no descriptor.
Status AnswerSharedRegion(protocol::Connection& conn, const protocol::FrameHeader& header,
                          protocol::RingGeometry geometry, int fd) {
  if (fd < 0) {
    return conn.SendFrame(header.opcode, protocol::kFlagReply, header.request_id,
                          {protocol::EncodeRingGeometry({CUDA_ERROR_NOT_SUPPORTED, 0, 0, 0})});
  }
  return conn.SendFrameWithFd(header.opcode, protocol::kFlagReply, header.request_id,
                              protocol::EncodeRingGeometry(geometry), fd);
}

Status CheckSharedRegionRequest(const protocol::FrameHeader& header, std::string_view payload,
                                const char* name) {
  if (!payload.empty() || (header.flags & protocol::kFlagNoReply) != 0)
    return Status::InvalidArgument(std::string(name) + " takes no payload and is answered");
  return Status::Ok();
}

}  // namespace

Status OpenCopyRing(Session& session, protocol::Connection& conn, const protocol::FrameHeader& header,
                    std::string_view payload) {
  GPUPOOL_RETURN_IF_ERROR(CheckSharedRegionRequest(header, payload, "OpenCopyRing"));
  // Once per session: a second ring would need a second sequence of ring frames.
  if (session.ring == nullptr && PlainUnixSocket(conn)) {
    auto ring = CopyRing::Create();
    if (!ring.ok()) {
      GPUPOOL_LOG(kWarn) << "no copy ring for this session: " << ring.status().ToString();
    } else {
      session.ring = std::move(*ring);
      GPUPOOL_LOG(kInfo) << "copy ring shared with the client: " << protocol::kRingSlots << " slots of "
                         << (protocol::kRingSlotBytes >> 10) << " KiB";
      return AnswerSharedRegion(conn, header,
                                {CUDA_SUCCESS, protocol::kRingSlots, protocol::kRingSlotBytes,
                                 static_cast<std::uint32_t>(protocol::kRingHeaderBytes)},
                                session.ring->fd());
    }
  }
  return AnswerSharedRegion(conn, header, {}, -1);
}

Status OpenDeferredStaging(Session& session, protocol::Connection& conn, const protocol::FrameHeader& header,
                           std::string_view payload) {
  GPUPOOL_RETURN_IF_ERROR(CheckSharedRegionRequest(header, payload, "OpenDeferredStaging"));
  // Only beside a copy ring (so over a plain Unix socket), once per session.
  if (session.ring != nullptr && session.deferred.staging_fd() < 0) {
    auto memory = SharedMemory::Create("gpupool-deferred-staging", protocol::kStagingBytes);
    Status sealed = memory.ok() ? memory->SealSize() : memory.status();
    if (!sealed.ok()) {
      GPUPOOL_LOG(kWarn) << "no deferred staging for this session: " << sealed.ToString();
    } else {
      session.deferred.ShareStaging(std::move(*memory));
      GPUPOOL_LOG(kInfo) << "deferred staging shared with the client: " << protocol::kStagingSlots
                         << " slots of " << (protocol::kStagingSlotBytes >> 10) << " KiB";
      return AnswerSharedRegion(conn, header,
                                {CUDA_SUCCESS, protocol::kStagingSlots, protocol::kStagingSlotBytes,
                                 static_cast<std::uint32_t>(protocol::kStagingHeaderBytes)},
                                session.deferred.staging_fd());
    }
  }
  return AnswerSharedRegion(conn, header, {}, -1);
}

}  // namespace gpupool::server
