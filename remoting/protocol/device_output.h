// The DeviceOutput frame (opcode kOpDeviceOutput, docs/protocol.md "Device output"): device printf
// text that the worker's driver wrote to the worker's stdout, on its way to the client's stdout.
//
// Payload: u64 dropped, then the text as the frame's tail (at most kChunkSize bytes). The server
// sends it with the request id of the answered call whose reply follows; `dropped` counts bytes the
// worker discarded before this text because its buffer (kMaxBufferedOutput) was full.
//
// Thread-safety: values and free functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace gpupool::protocol {

struct DeviceOutput {
  std::uint64_t dropped = 0;
  std::string_view text;  // points into the decoded payload
};

// The u64 that precedes the text; the text follows as the tail, sent without a copy.
std::string EncodeDeviceOutputHead(std::uint64_t dropped);
// Strict: a payload shorter than 8 bytes, or text over kChunkSize, fails.
Result<DeviceOutput> DecodeDeviceOutput(std::string_view payload);

}  // namespace gpupool::protocol
