#include "common/endpoint.h"

#include <charconv>

namespace gpupool {

std::string Endpoint::ToString() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

bool Endpoint::is_loopback() const {
  if (kind == Kind::kUnix) return true;
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

Result<Endpoint> ParseEndpoint(std::string_view text, bool allow_port_zero) {
  const std::string quoted = "address \"" + std::string(text) + "\"";
  Endpoint ep;
  if (text.rfind("unix:", 0) == 0) {
    ep.kind = Endpoint::Kind::kUnix;
    ep.path = std::string(text.substr(5));
    if (ep.path.empty()) return Status::InvalidArgument(quoted + " has an empty socket path");
    // Abstract sockets ("@name") are the server's own, between its processes: never an address a user
    // gives (a Unix socket's file is what permissions and the device plugin's mounts act on).
    if (ep.path.front() == '@')
      return Status::InvalidArgument(quoted + " names an abstract socket, not a file");
    return ep;
  }
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status::InvalidArgument(quoted + " is not [IPv6]:PORT");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return Status::InvalidArgument(quoted + " is not HOST:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Status::InvalidArgument(quoted + ": write IPv6 addresses as [ADDR]:PORT");
    }
  }
  if (host.empty()) return Status::InvalidArgument(quoted + " has an empty host");
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || v > 65535 ||
      (v == 0 && !allow_port_zero)) {
    return Status::InvalidArgument(quoted + " has an invalid port (1..65535)");
  }
  ep.host = std::string(host);
  ep.port = static_cast<std::uint16_t>(v);
  return ep;
}

}  // namespace gpupool
