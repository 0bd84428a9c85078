#include "remoting/server/copy_ring.h"

#include <cuda.h>
#include <sys/socket.h>

#include "common/log.h"
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

Status OpenCopyRing(Session& session, protocol::Connection& conn, const protocol::FrameHeader& header,
                    std::string_view payload) {
  if (!payload.empty() || (header.flags & protocol::kFlagNoReply) != 0)
    return Status::InvalidArgument("OpenCopyRing takes no payload and is answered");
  protocol::RingGeometry geometry;
  geometry.status = CUDA_ERROR_NOT_SUPPORTED;
  // Once per session: a second ring would need a second sequence of ring frames.
  if (session.ring == nullptr && PlainUnixSocket(conn)) {
    auto ring = CopyRing::Create();
    if (!ring.ok()) {
      GPUPOOL_LOG(kWarn) << "no copy ring for this session: " << ring.status().ToString();
    } else {
      session.ring = std::move(*ring);
      GPUPOOL_LOG(kInfo) << "copy ring shared with the client: " << protocol::kRingSlots << " slots of "
                         << (protocol::kRingSlotBytes >> 10) << " KiB";
      geometry = {CUDA_SUCCESS, protocol::kRingSlots, protocol::kRingSlotBytes,
                  static_cast<std::uint32_t>(protocol::kRingHeaderBytes)};
      return conn.SendFrameWithFd(protocol::kOpOpenCopyRing, protocol::kFlagReply, header.request_id,
                                  protocol::EncodeRingGeometry(geometry), session.ring->fd());
    }
  }
  return conn.SendFrame(protocol::kOpOpenCopyRing, protocol::kFlagReply, header.request_id,
                        {protocol::EncodeRingGeometry(geometry)});
}

}  // namespace gpupool::server
