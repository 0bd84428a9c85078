// Hostile and broken clients: each protocol violation ends that session with an Error frame, while a
// second session on the same server keeps working and the server keeps accepting.
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <functional>

#include "tests/remoting/server/test_client.h"

namespace gpupool::testing {
namespace {

using protocol::Op;

// A session that still works: allocate, copy there and back, free.
void CheckWorks(TestClient& c) {
  auto alloc = c.Call<Op::MemAlloc>({1024});
  REQUIRE(alloc.result == CUDA_SUCCESS);
  std::string data = Pattern(1000, 9);
  REQUIRE(c.Result<Op::MemcpyHtoD>({std::get<0>(alloc.fields) + 3}, data) == CUDA_SUCCESS);
  CHECK(c.Call<Op::MemcpyDtoH>({std::get<0>(alloc.fields) + 3, 1000}).tail == data);
  CHECK(c.Result<Op::MemFree>({std::get<0>(alloc.fields)}) == CUDA_SUCCESS);
}

std::string U64(std::uint64_t v) {
  return std::string(reinterpret_cast<char*>(&v), 8);
}

TEST_CASE("protocol violations end only the offending session") {
  struct Case {
    const char* what;
    std::string bytes;
  };
  const std::uint16_t alloc = static_cast<std::uint16_t>(Op::MemAlloc);
  const std::vector<Case> cases = {
      {"oversized frame", Header(protocol::kMaxPayload + 1, alloc, 0, 1)},
      {"unknown opcode", Header(0, 0x7777, 0, 1)},
      {"handshake opcode after the handshake", Header(0, protocol::kOpHello, 0, 1)},
      {"garbage bytes", Pattern(64, 3)},
      {"truncated payload", Header(3, alloc, 0, 1) + "abc"},
      {"trailing bytes", Header(9, alloc, 0, 1) + U64(64) + "x"},
      {"async call sent for a reply",
       Header(20, static_cast<std::uint16_t>(Op::EventRecord), 0, 1) + U64(1) + U64(0) + "1234"},
      {"sync call sent without reply", Header(8, alloc, protocol::kFlagNoReply, 1) + U64(64)},
      {"reply flag from the client", Header(8, alloc, protocol::kFlagReply, 1) + U64(64)},
      {"unknown flags", Header(8, alloc, 0x40, 1) + U64(64)},
      {"string length past the frame", Header(12, static_cast<std::uint16_t>(Op::ModuleGetFunction), 0, 1) +
                                           U64(0x1000) + "\xff\xff\xff\x7f"},
  };
  ServerProcess server = ServerProcess::Start();
  TestClient good = TestClient::Open(server.endpoint);
  good.UseDevice0();
  for (const Case& k : cases) {
    INFO(k.what);
    TestClient bad = TestClient::Open(server.endpoint);
    bad.UseDevice0();
    SendRaw(bad.conn(), k.bytes);
    protocol::ErrorMessage error = bad.ExpectErrorAndClose();
    CHECK(error.code == Code::kInvalidArgument);
    CHECK_FALSE(error.message.empty());
    CheckWorks(good);
  }
  TestClient later = TestClient::Open(server.endpoint);  // still accepting
  later.UseDevice0();
  CheckWorks(later);
}

TEST_CASE("bad handshakes get an error and the connection closes") {
  struct Case {
    const char* what;
    std::function<std::string()> hello;
    Code code;
  };
  auto hello = [](std::uint32_t magic, std::uint16_t version) {
    std::string p = protocol::EncodeHello({magic, version, "", "t", 1, "", ""});
    return Header(static_cast<std::uint32_t>(p.size()), protocol::kOpHello, 0, 0) + p;
  };
  const std::vector<Case> cases = {
      {"bad magic", [&] { return hello(0x12345678, protocol::kProtocolVersion); }, Code::kInvalidArgument},
      {"future version", [&] { return hello(protocol::kMagic, 99); }, Code::kInvalidArgument},
      {"a call before Hello", [] { return Header(8, 0x0301, 0, 1) + U64(8); }, Code::kInvalidArgument},
      {"garbage", [] { return Pattern(40, 5); }, Code::kInvalidArgument},
      {"pod not admitted",
       [] {
         std::string p =
             protocol::EncodeHello({protocol::kMagic, protocol::kProtocolVersion, "", "t", 1, "pod-x", ""});
         return Header(static_cast<std::uint32_t>(p.size()), protocol::kOpHello, 0, 0) + p;
       },
       Code::kPermissionDenied},
  };
  ServerProcess server = ServerProcess::Start();
  for (const Case& k : cases) {
    INFO(k.what);
    TestClient raw = TestClient::Raw(server.endpoint);
    SendRaw(raw.conn(), k.hello());
    CHECK(raw.ExpectErrorAndClose().code == k.code);
  }
  {
    // A version 1 client (its Hello has no pod token field) hears which version is wrong.
    std::string v1 = protocol::EncodeHello({protocol::kMagic, 1, "", "t", 1, "", ""});
    v1.resize(v1.size() - 4);  // the empty pod token's length
    TestClient raw = TestClient::Raw(server.endpoint);
    SendRaw(raw.conn(), Header(static_cast<std::uint32_t>(v1.size()), protocol::kOpHello, 0, 0) + v1);
    protocol::ErrorMessage error = raw.ExpectErrorAndClose();
    CHECK(error.code == Code::kInvalidArgument);
    CHECK(error.message == "protocol version 1 not supported (server speaks 2 to 10)");
  }
  {
    // A version 2 client (the same Hello, no copy ring) is served: servers may be upgraded first.
    TestClient v2 = TestClient::Raw(server.endpoint);
    const std::string v2_hello = protocol::EncodeHello({protocol::kMagic, 2, "", "old-client", 1, "", ""});
    SendRaw(v2.conn(),
            Header(static_cast<std::uint32_t>(v2_hello.size()), protocol::kOpHello, 0, 0) + v2_hello);
    auto header = v2.conn().ReadHeader();
    REQUIRE(header.ok());
    CHECK(header->opcode == protocol::kOpHelloOk);
  }
  TestClient ok = TestClient::Open(server.endpoint);
  ok.UseDevice0();
  CheckWorks(ok);
}

TEST_CASE("a client that stalls in the handshake is dropped and holds nobody up") {
  ServerProcess server = ServerProcess::Start();
  TestClient slow = TestClient::Raw(server.endpoint);
  SendRaw(slow.conn(), Header(100, protocol::kOpHello, 0, 0).substr(0, 5));  // then nothing
  auto start = std::chrono::steady_clock::now();
  TestClient fast = TestClient::Open(server.endpoint);  // not blocked behind the slow one
  fast.UseDevice0();
  CheckWorks(fast);
  protocol::ErrorMessage error = slow.ExpectErrorAndClose();
  CHECK(error.code == Code::kDeadlineExceeded);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(15));
}

TEST_CASE("a client vanishing mid-transfer ends its session and frees it") {
  ServerProcess server = ServerProcess::Start({"--session-memory", "16MiB"});
  TestClient good = TestClient::Open(server.endpoint);
  good.UseDevice0();
  std::uint64_t gone_id = 0;
  {
    TestClient gone = TestClient::Open(server.endpoint);
    gone_id = gone.session_id();
    gone.UseDevice0();
    auto alloc = gone.Call<Op::MemAlloc>({8u << 20});
    REQUIRE(alloc.result == CUDA_SUCCESS);
    std::string partial =
        Header(8 + protocol::kChunkSize, static_cast<std::uint16_t>(Op::MemcpyHtoD), 0, 99) +
        U64(std::get<0>(alloc.fields)) + std::string(100000, 'z');
    SendRaw(gone.conn(), partial);
  }  // closed mid-frame
  auto line = server.process.WaitForLine("session " + std::to_string(gone_id) + " ended", kWait);
  INFO(line.status().ToString());
  REQUIRE(line.ok());
  CheckWorks(good);
}

}  // namespace
}  // namespace gpupool::testing
