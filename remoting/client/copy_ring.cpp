#include "remoting/client/copy_ring.h"

#include "remoting/client/session.h"

namespace gpupool::client {
namespace {

// How long one wait for the worker lasts before the session's health is looked at again.
constexpr std::chrono::milliseconds kWaitSlice{100};

}  // namespace

Result<std::unique_ptr<CopyRing>> CopyRing::Open(protocol::Connection& conn) {
  GPUPOOL_ASSIGN_OR_RETURN(std::unique_ptr<SharedRegion> region,
                           RequestSharedRegion(conn, protocol::kOpOpenCopyRing, "OpenCopyRing",
                                               {0, protocol::kRingSlots, protocol::kRingSlotBytes,
                                                static_cast<std::uint32_t>(protocol::kRingHeaderBytes)},
                                               protocol::kRingBytes));
  if (region == nullptr) return std::unique_ptr<CopyRing>();  // declined: copies use the socket
  return std::unique_ptr<CopyRing>(new CopyRing(std::move(region)));
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
