#include "remoting/protocol/device_output.h"

#include "remoting/protocol/frame.h"
#include "remoting/protocol/wire_reader.h"
#include "remoting/protocol/wire_writer.h"

namespace gpupool::protocol {

std::string EncodeDeviceOutputHead(std::uint64_t dropped) {
  Writer w;
  w.U64(dropped);
  return w.Take();
}

Result<DeviceOutput> DecodeDeviceOutput(std::string_view payload) {
  Reader r(payload);
  DeviceOutput m;
  r.U64(&m.dropped);
  m.text = r.Rest();
  GPUPOOL_RETURN_IF_ERROR(r.status().Annotate("DeviceOutput"));
  if (m.text.size() > kChunkSize) {
    return Status::InvalidArgument("DeviceOutput carries " + std::to_string(m.text.size()) +
                                   " bytes of text, more than one chunk");
  }
  return m;
}

}  // namespace gpupool::protocol
