// Handshake and error messages: round trip, and strict decoding of hostile input.
#include "remoting/protocol/handshake.h"

#include <catch2/catch.hpp>

#include "remoting/protocol/frame.h"

namespace gpupool::protocol {
namespace {

TEST_CASE("Hello, HelloOk and Error round-trip") {
  Hello hello{kMagic, kProtocolVersion, "tok", "python3", 4242, "pod-uid-1", "eyJhbGciOi.x.y"};
  auto h = DecodeHello(EncodeHello(hello));
  REQUIRE(h.ok());
  CHECK(h->magic == kMagic);
  CHECK(h->version == kProtocolVersion);
  CHECK(h->token == "tok");
  CHECK(h->process_name == "python3");
  CHECK(h->pid == 4242);
  CHECK(h->pod_uid == "pod-uid-1");
  CHECK(h->pod_token == "eyJhbGciOi.x.y");

  auto ok = DecodeHelloOk(EncodeHelloOk({77, "0.1.0", "emulated"}));
  REQUIRE(ok.ok());
  CHECK(ok->session_id == 77);
  CHECK(ok->server_version == "0.1.0");
  CHECK(ok->device_kind == "emulated");

  auto err = DecodeError(EncodeError({Code::kUnauthenticated, "bad token"}));
  REQUIRE(err.ok());
  CHECK(err->code == Code::kUnauthenticated);
  CHECK(err->message == "bad token");
}

TEST_CASE("handshake decoding rejects truncation, trailing bytes and bad codes") {
  std::string hello = EncodeHello({kMagic, kProtocolVersion, "", "p", 1, "", "tok"});
  for (std::size_t n = 0; n < hello.size(); ++n) {
    CHECK_FALSE(DecodeHello(hello.substr(0, n)).ok());
  }
  CHECK_FALSE(DecodeHello(hello + "z").ok());
  CHECK_FALSE(DecodeHelloOk("garbage").ok());
  CHECK_FALSE(DecodeError(EncodeError({Code::kOk, "not an error"})).ok());
  std::string huge_code = EncodeError({Code::kInternal, "x"});
  huge_code[0] = 99;
  CHECK_FALSE(DecodeError(huge_code).ok());
}

}  // namespace
}  // namespace gpupool::protocol
