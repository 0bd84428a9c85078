// FrameReader: reads frames through one large buffer, so a stream of small frames (asynchronous
// launches, memsets) costs one recv for many frames instead of two per frame. Payloads are returned
// as views into the buffer; a whole frame always fits (the buffer exceeds kHeaderSize + kMaxPayload),
// and bulk payloads are received into it directly, with no further copy.
//
// A frame may also be read in parts: Header, then Take (a view of the next bytes, buffered) and
// TakeInto (the next bytes straight into the caller's memory, e.g. a bulk copy's destination, so they
// are not received into the buffer and copied again). Every byte of a frame must be taken before
// the next Header.
//
// Thread-safety: one reader thread. A returned payload view is valid until the next call to Next,
// Header or Take.
#pragma once

#include <memory>
#include <string_view>

#include "remoting/protocol/transport.h"

namespace gpupool::protocol {

class FrameReader {
 public:
  // Payloads longer than this are bulk: the reader never reads past their end (see Fill).
  static constexpr std::size_t kBulkFrame = 64u << 10;

  explicit FrameReader(Connection* conn);

  // The next frame's checked header, and its payload in *payload.
  Result<FrameHeader> Next(std::string_view* payload);

  // The next frame's checked header; its payload is then read with Take / TakeInto.
  Result<FrameHeader> Header();
  // The next `n` payload bytes of the current frame as a view into the buffer; InvalidArgument when
  // the frame has fewer left.
  Result<std::string_view> Take(std::size_t n);
  // Receives the next `n` payload bytes of the current frame into `dst`: what is already buffered
  // is copied, the rest is received straight into `dst`. InvalidArgument when the frame has fewer.
  Status TakeInto(void* dst, std::size_t n);
  // Payload bytes of the current frame not yet taken.
  std::size_t left() const { return left_; }
  // Set once a read failed inside a frame: the stream has lost its framing, and every later call
  // returns this error.
  const Status& broken() const { return broken_; }

  // True when bytes of an incomplete frame are buffered (a read failing now broke a frame).
  bool mid_frame() const { return begin_ != end_ || left_ != 0; }

 private:
  // Makes at least `need` unread bytes available, reading at most `most` more bytes than that
  // beyond what a bulk frame needs (small frames: as much as fits).
  Status Fill(std::size_t need, std::size_t most);

  static constexpr std::size_t kCapacity = 2 * (kHeaderSize + kMaxPayload);
  // After a payload went straight to its destination, another bulk frame is likely next: the next
  // header is read with at most this much more, so little of that frame's payload lands in the
  // buffer (to be copied out again).
  static constexpr std::size_t kAfterDirectRead = 256;
  Connection* conn_;
  std::unique_ptr<char[]> buf_;
  std::size_t begin_ = 0;  // first unread byte
  std::size_t end_ = 0;    // one past the last received byte
  std::size_t left_ = 0;   // payload bytes of the current frame not yet taken
  bool after_direct_ = false;
  Status broken_;
};

}  // namespace gpupool::protocol
