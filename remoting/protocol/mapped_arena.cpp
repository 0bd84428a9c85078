#include "remoting/protocol/mapped_arena.h"

#include "remoting/protocol/wire_reader.h"
#include "remoting/protocol/wire_writer.h"

namespace gpupool::protocol {

std::string EncodeArenaRequest(std::uint64_t address) {
  Writer w;
  w.U64(address);
  return w.Take();
}

Result<std::uint64_t> DecodeArenaRequest(std::string_view payload) {
  Reader r(payload);
  std::uint64_t address = 0;
  r.U64(&address);
  GPUPOOL_RETURN_IF_ERROR(r.ExpectEnd().Annotate("OpenMappedArena request"));
  if (address == 0 || address % kMappedArenaPage != 0 || address > UINT64_MAX - kMappedArenaBytes)
    return Status::InvalidArgument("OpenMappedArena names an address that cannot hold an arena");
  return address;
}

std::string EncodeArenaReply(const ArenaReply& reply) {
  Writer w;
  w.U32(static_cast<std::uint32_t>(reply.status));
  w.U64(reply.bytes);
  w.U64(reply.limit);
  return w.Take();
}

Result<ArenaReply> DecodeArenaReply(std::string_view payload) {
  Reader r(payload);
  std::uint32_t status = 0;
  ArenaReply reply;
  r.U32(&status);
  r.U64(&reply.bytes);
  r.U64(&reply.limit);
  GPUPOOL_RETURN_IF_ERROR(r.ExpectEnd().Annotate("OpenMappedArena reply"));
  if (status > static_cast<std::uint32_t>(ArenaStatus::kAddressTaken))
    return Status::InvalidArgument("OpenMappedArena reply has an unknown status");
  reply.status = static_cast<ArenaStatus>(status);
  return reply;
}

}  // namespace gpupool::protocol
