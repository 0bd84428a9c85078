#include "remoting/protocol/wire_writer.h"

namespace gpupool::protocol {

void EncodeHeader(const FrameHeader& header, unsigned char out[kHeaderSize]) {
  std::memcpy(out + 0, &header.payload_size, 4);
  std::memcpy(out + 4, &header.opcode, 2);
  std::memcpy(out + 6, &header.flags, 2);
  std::memcpy(out + 8, &header.request_id, 8);
}

}  // namespace gpupool::protocol
