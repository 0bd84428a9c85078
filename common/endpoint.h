// Network endpoints as users write them: "host:port", "[::1]:7470", "unix:/run/gpupool.sock".
//
// Thread-safety: values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace gpupool {

struct Endpoint {
  enum class Kind { kTcp, kUnix };
  Kind kind = Kind::kTcp;
  std::string host;  // kTcp: name or address, IPv6 without brackets
  std::uint16_t port = 0;
  // kUnix: socket path; "@name", only ever made by the server itself, an abstract socket (no file;
  // Linux): ParseEndpoint refuses it.
  std::string path;

  // "host:port", "[v6]:port" or "unix:/path".
  std::string ToString() const;
  bool is_loopback() const;  // unix sockets count as loopback
};

// Port 0 is accepted only when `allow_port_zero` (listen addresses that pick a free port).
Result<Endpoint> ParseEndpoint(std::string_view text, bool allow_port_zero = false);

}  // namespace gpupool
