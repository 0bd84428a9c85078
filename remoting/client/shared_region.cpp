#include "remoting/client/shared_region.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

namespace gpupool::client {

SharedRegion::~SharedRegion() {
  ::munmap(base_, bytes_);
}

Result<FdReply> ExchangeForFd(protocol::Connection& conn, std::uint16_t opcode, std::string_view payload,
                              const char* name) {
  GPUPOOL_RETURN_IF_ERROR(conn.SendFrame(opcode, 0, 0, {payload}));
  FdReply reply;
  GPUPOOL_ASSIGN_OR_RETURN(protocol::FrameHeader header, conn.ReadHeaderWithFd(&reply.fd));
  Status read = conn.ReadPayload(header.payload_size, &reply.payload);
  if (read.ok() && (header.opcode != opcode || (header.flags & protocol::kFlagReply) == 0))
    read = Status::Internal(std::string("server answered ") + name + " with another frame");
  if (!read.ok()) {
    if (reply.fd >= 0) ::close(reply.fd);
    return read;
  }
  return reply;
}

Result<std::unique_ptr<SharedRegion>> RequestSharedRegion(protocol::Connection& conn, std::uint16_t opcode,
                                                          const char* name,
                                                          const protocol::RingGeometry& expected,
                                                          std::size_t bytes) {
  GPUPOOL_ASSIGN_OR_RETURN(FdReply answer, ExchangeForFd(conn, opcode, {}, name));
  const int fd = answer.fd;
  auto fail = [&](Status why) -> Result<std::unique_ptr<SharedRegion>> {
    if (fd >= 0) ::close(fd);
    return why;
  };
  auto geometry = protocol::DecodeRingGeometry(answer.payload);
  if (!geometry.ok()) return fail(geometry.status());
  if (geometry->status != 0) {  // declined
    if (fd >= 0) ::close(fd);
    return std::unique_ptr<SharedRegion>();
  }
  struct stat st {};
  if (fd < 0 || geometry->slots != expected.slots || geometry->slot_bytes != expected.slot_bytes ||
      geometry->header_bytes != expected.header_bytes || ::fstat(fd, &st) != 0 ||
      static_cast<std::size_t>(st.st_size) != bytes) {
    return fail(Status::Internal(std::string("the server's shared memory for ") + name +
                                 " does not have the expected geometry"));
  }
  void* mapping = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int error = errno;
  ::close(fd);
  if (mapping == MAP_FAILED)
    return Status::Internal(std::string("mapping shared memory: ") + std::strerror(error));
  return std::make_unique<SharedRegion>(mapping, bytes);
}

}  // namespace gpupool::client
