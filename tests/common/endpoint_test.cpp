#include "common/endpoint.h"

#include <catch2/catch.hpp>

namespace gpupool {

TEST_CASE("ParseEndpoint reads host:port, [v6]:port and unix:path", "[endpoint]") {
  auto tcp = ParseEndpoint("gpu-01.example.com:7470");
  REQUIRE(tcp.ok());
  CHECK(tcp->kind == Endpoint::Kind::kTcp);
  CHECK(tcp->host == "gpu-01.example.com");
  CHECK(tcp->port == 7470);
  CHECK(tcp->ToString() == "gpu-01.example.com:7470");
  CHECK_FALSE(tcp->is_loopback());

  auto v6 = ParseEndpoint("[::1]:80");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->ToString() == "[::1]:80");
  CHECK(v6->is_loopback());

  auto unix_ep = ParseEndpoint("unix:/run/gpupool.sock");
  REQUIRE(unix_ep.ok());
  CHECK(unix_ep->kind == Endpoint::Kind::kUnix);
  CHECK(unix_ep->path == "/run/gpupool.sock");
  CHECK(unix_ep->ToString() == "unix:/run/gpupool.sock");

  CHECK(ParseEndpoint("127.0.0.1:0", /*allow_port_zero=*/true).ok());
}

TEST_CASE("ParseEndpoint rejects malformed addresses", "[endpoint]") {
  for (const char* bad : {"", "host", ":80", "host:", "host:0", "host:65536", "host:80x", "::1:80", "[::1]80",
                          "unix:", "unix:@abstract"}) {
    INFO(bad);
    auto r = ParseEndpoint(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
  }
}

}  // namespace gpupool
