#include "remoting/protocol/wire_reader.h"

namespace gpupool::protocol {

bool Reader::Fail(std::string message) {
  if (status_.ok()) status_ = Status::InvalidArgument(std::move(message));
  pos_ = data_.size();
  return false;
}

bool Reader::Str(std::string* out, std::size_t max_bytes) {
  std::uint32_t size = 0;
  if (!U32(&size)) return false;
  if (size > max_bytes) {
    return Fail("string of " + std::to_string(size) + " bytes exceeds the limit of " +
                std::to_string(max_bytes));
  }
  std::string_view view;
  if (!RawView(size, &view)) return false;
  out->assign(view);
  return true;
}

bool Reader::RawView(std::size_t size, std::string_view* out) {
  if (!ok()) return false;
  if (size > remaining()) return Fail("truncated payload: need " + std::to_string(size) + " bytes");
  *out = data_.substr(pos_, size);
  pos_ += size;
  return true;
}

std::string_view Reader::Rest() {
  std::string_view rest = ok() ? data_.substr(pos_) : std::string_view();
  pos_ = data_.size();
  return rest;
}

Status Reader::ExpectEnd() {
  if (ok() && remaining() != 0) Fail(std::to_string(remaining()) + " unexpected trailing bytes");
  return status_;
}

Result<FrameHeader> DecodeHeader(const unsigned char in[kHeaderSize]) {
  FrameHeader h;
  std::memcpy(&h.payload_size, in + 0, 4);
  std::memcpy(&h.opcode, in + 4, 2);
  std::memcpy(&h.flags, in + 6, 2);
  std::memcpy(&h.request_id, in + 8, 8);
  if (h.payload_size > kMaxPayload) {
    return Status::InvalidArgument("frame payload of " + std::to_string(h.payload_size) +
                                   " bytes exceeds the limit of " + std::to_string(kMaxPayload));
  }
  if ((h.flags & ~kKnownFlags) != 0) {
    return Status::InvalidArgument("unknown frame flags 0x" + std::to_string(h.flags));
  }
  return h;
}

}  // namespace gpupool::protocol
