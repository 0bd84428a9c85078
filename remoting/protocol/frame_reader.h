// FrameReader: reads frames through one large buffer, so a stream of small frames (asynchronous
// launches, memsets) costs one recv for many frames instead of two per frame. Payloads are returned
// as views into the buffer; a whole frame always fits (the buffer exceeds kHeaderSize + kMaxPayload),
// and bulk payloads are received into it directly, with no further copy.
//
// Thread-safety: one reader thread. A returned payload view is valid until the next call to Next.
#pragma once

#include <memory>
#include <string_view>

#include "remoting/protocol/transport.h"

namespace gpupool::protocol {

class FrameReader {
 public:
  explicit FrameReader(Connection* conn);

  // The next frame's checked header, and its payload in *payload.
  Result<FrameHeader> Next(std::string_view* payload);
  // True when bytes of an incomplete frame are buffered (a read failing now broke a frame).
  bool mid_frame() const { return begin_ != end_; }

 private:
  // Makes at least `need` unread bytes available.
  Status Fill(std::size_t need);

  static constexpr std::size_t kCapacity = 2 * (kHeaderSize + kMaxPayload);
  static constexpr std::size_t kBulkFrame = 64u << 10;
  Connection* conn_;
  std::unique_ptr<char[]> buf_;
  std::size_t begin_ = 0;  // first unread byte
  std::size_t end_ = 0;    // one past the last received byte
};

}  // namespace gpupool::protocol
