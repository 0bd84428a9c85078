#include "remoting/protocol/frame_reader.h"

#include <cstring>

#include "remoting/protocol/wire_reader.h"

namespace gpupool::protocol {

FrameReader::FrameReader(Connection* conn) : conn_(conn), buf_(new char[kCapacity]) {}

Status FrameReader::Fill(std::size_t need) {
  if (end_ - begin_ >= need) return Status::Ok();
  if (begin_ == end_) begin_ = end_ = 0;
  if (begin_ + need > kCapacity) {  // no room after the unread bytes: move them to the front
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  // For a bulk frame, read no further than its end: what follows would otherwise have to be moved to
  // the front of the buffer for the next bulk frame (one more copy of every byte). Small frames read
  // as much as there is, so a burst of them costs one recv.
  std::size_t limit = need > kBulkFrame ? begin_ + need : kCapacity;
  while (end_ - begin_ < need) {
    GPUPOOL_ASSIGN_OR_RETURN(std::size_t got, conn_->ReadSome(buf_.get() + end_, limit - end_));
    end_ += got;
  }
  return Status::Ok();
}

Result<FrameHeader> FrameReader::Next(std::string_view* payload) {
  GPUPOOL_RETURN_IF_ERROR(Fill(kHeaderSize));
  GPUPOOL_ASSIGN_OR_RETURN(FrameHeader header,
                           DecodeHeader(reinterpret_cast<const unsigned char*>(buf_.get() + begin_)));
  GPUPOOL_RETURN_IF_ERROR(Fill(kHeaderSize + header.payload_size));
  *payload = std::string_view(buf_.get() + begin_ + kHeaderSize, header.payload_size);
  begin_ += kHeaderSize + header.payload_size;
  return header;
}

}  // namespace gpupool::protocol
