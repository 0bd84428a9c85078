#include "remoting/protocol/frame_reader.h"

#include <algorithm>
#include <cstring>

#include "remoting/protocol/wire_reader.h"

namespace gpupool::protocol {

FrameReader::FrameReader(Connection* conn) : conn_(conn), buf_(new char[kCapacity]) {}

Status FrameReader::Fill(std::size_t need, std::size_t most) {
  if (end_ - begin_ >= need) return Status::Ok();
  if (begin_ == end_) begin_ = end_ = 0;
  if (begin_ + need > kCapacity) {  // no room after the unread bytes: move them to the front
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  // For a bulk frame, read no further than its end: what follows would otherwise have to be moved to
  // the front of the buffer for the next bulk frame (one more copy of every byte). Small frames read
  // as much as there is (up to `most`), so a burst of them costs one recv.
  std::size_t limit = need > kBulkFrame ? begin_ + need : std::min(kCapacity, begin_ + need + most);
  while (end_ - begin_ < need) {
    GPUPOOL_ASSIGN_OR_RETURN(std::size_t got, conn_->ReadSome(buf_.get() + end_, limit - end_));
    end_ += got;
  }
  return Status::Ok();
}

Result<FrameHeader> FrameReader::Header() {
  GPUPOOL_RETURN_IF_ERROR(broken_);
  if (left_ != 0) return Status::Internal("FrameReader: the previous frame was not read whole");
  GPUPOOL_RETURN_IF_ERROR(Fill(kHeaderSize, after_direct_ ? kAfterDirectRead : kCapacity));
  after_direct_ = false;
  GPUPOOL_ASSIGN_OR_RETURN(FrameHeader header,
                           DecodeHeader(reinterpret_cast<const unsigned char*>(buf_.get() + begin_)));
  begin_ += kHeaderSize;
  left_ = header.payload_size;
  return header;
}

Result<std::string_view> FrameReader::Take(std::size_t n) {
  GPUPOOL_RETURN_IF_ERROR(broken_);
  if (n > left_) return Status::InvalidArgument("FrameReader: take past the end of the frame");
  GPUPOOL_RETURN_IF_ERROR(Fill(n, kCapacity));
  std::string_view view(buf_.get() + begin_, n);
  begin_ += n;
  left_ -= n;
  return view;
}

Status FrameReader::TakeInto(void* dst, std::size_t n) {
  GPUPOOL_RETURN_IF_ERROR(broken_);
  if (n > left_) return Status::InvalidArgument("FrameReader: take past the end of the frame");
  auto* out = static_cast<char*>(dst);
  const std::size_t buffered = std::min(n, end_ - begin_);
  if (buffered > 0) std::memcpy(out, buf_.get() + begin_, buffered);
  begin_ += buffered;
  left_ -= buffered;
  // Part of the rest may have arrived before a failure: the frame's end is unknown from then on.
  if (Status read = conn_->ReadExact(out + buffered, n - buffered); !read.ok()) {
    broken_ = read;
    return read;
  }
  left_ -= n - buffered;
  after_direct_ = true;
  return Status::Ok();
}

Result<FrameHeader> FrameReader::Next(std::string_view* payload) {
  GPUPOOL_ASSIGN_OR_RETURN(FrameHeader header, Header());
  GPUPOOL_ASSIGN_OR_RETURN(*payload, Take(header.payload_size));
  return header;
}

}  // namespace gpupool::protocol
