// The GPUs of a gpupool-server, listed next to its node-local Unix socket as "<socket>.gpus", one UUID
// ("GPU-…") per line. The server writes it once it knows its GPUs; a client offered that socket
// (GPUPOOL_LOCAL_SOCKET) reads it to skip, before it authenticates, a server that does not have the
// GPU it is bound to, so pods bound elsewhere cost the node's server no handshake or TokenReview.
// Only a hint: the client still checks the GPU over the authenticated session before it uses the
// socket, and without the file (an older server, or one still starting) it asks the server directly
// (remoting/client/local_server.h). The UUIDs are no secret (they are in every binding and in
// GPUPool.status).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gpupool {

inline std::string LocalGpuListPath(const std::string& socket_path) {
  return socket_path + ".gpus";
}

inline std::string FormatLocalGpuList(const std::vector<std::string>& uuids) {
  std::string text;
  for (const std::string& uuid : uuids) text += uuid + "\n";
  return text;
}

// Strict: every line a "GPU-" name of at most 64 characters, at most 1024 of them; anything else is
// InvalidArgument (the client then asks the server instead).
inline Result<std::vector<std::string>> ParseLocalGpuList(std::string_view text) {
  std::vector<std::string> uuids;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    if (end == std::string_view::npos) return Status::InvalidArgument("GPU list: last line not terminated");
    const std::string_view line = text.substr(0, end);
    if (line.size() > 64 || line.rfind("GPU-", 0) != 0 ||
        line.find_first_of(" \t\r") != std::string_view::npos)
      return Status::InvalidArgument("GPU list: \"" + std::string(line.substr(0, 64)) +
                                     "\" is not a GPU UUID");
    if (uuids.size() == 1024) return Status::InvalidArgument("GPU list: more than 1024 GPUs");
    uuids.emplace_back(line);
    text.remove_prefix(end + 1);
  }
  return uuids;
}

}  // namespace gpupool
