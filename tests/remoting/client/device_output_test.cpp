// DeviceOutput frames on the client (docs/protocol.md "Device output"), against a fake server that
// sends a chosen frame before each reply: the text goes to this process's stdout before the call
// returns; a malformed or misdirected DeviceOutput breaks the session.
#include "remoting/protocol/device_output.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <functional>

#include "remoting/client/session.h"
#include "tests/remoting/client/fake_server.h"
#include "tests/support/process.h"

namespace gpupool::client {
namespace {

using gpupool::testing::TempDir;
using BeforeReply = std::function<void(protocol::Connection&, std::uint64_t request_id)>;

constexpr std::uint16_t kSyncOp = 0x0603;  // any answered opcode: the fake server does not decode

// One answered call through a fresh session; returns its result and what it wrote to stdout.
CUresult CallOnce(BeforeReply before, std::string* out) {
  TempDir dir;
  // Answers every request with an empty success reply, after `before` for it.
  testing::FakeServer server(
      dir.File("s.sock"), [&](protocol::Connection& conn, const protocol::FrameHeader& header) {
        before(conn, header.request_id);
        (void)conn.SendFrame(header.opcode, protocol::kFlagReply, header.request_id, {std::string(4, '\0')});
      });
  ServerAddress address;
  address.endpoint = Endpoint{Endpoint::Kind::kUnix, "", 0, dir.File("s.sock")};
  auto session = Session::Open(address);
  if (!session.ok()) return CUDA_ERROR_NOT_INITIALIZED;
  std::fflush(stdout);
  const int saved = ::dup(STDOUT_FILENO);
  std::FILE* file = std::tmpfile();
  if (saved < 0 || file == nullptr || ::dup2(::fileno(file), STDOUT_FILENO) < 0) return CUDA_ERROR_UNKNOWN;
  Pending pending;
  CUresult result = (*session)->Send(kSyncOp, false, 0, "", nullptr, 0, &pending);
  if (result == CUDA_SUCCESS) result = (*session)->Wait(&pending);
  std::fflush(stdout);
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  std::rewind(file);
  char chunk[4096];
  for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, file)) > 0;) out->append(chunk, n);
  std::fclose(file);
  session->reset();  // closes the connection, so the fake server's loop ends
  return result;
}

void SendOutput(protocol::Connection& conn, std::uint16_t flags, std::uint64_t id,
                const std::string& payload) {
  (void)conn.SendFrame(protocol::kOpDeviceOutput, flags, id, {payload});
}

TEST_CASE("device output before a reply is on stdout when the call returns") {
  std::string out;
  CUresult r = CallOnce(
      [](protocol::Connection& conn, std::uint64_t id) {
        SendOutput(conn, protocol::kFlagReply, id, protocol::EncodeDeviceOutputHead(0) + "first\n");
        SendOutput(conn, protocol::kFlagReply, id, protocol::EncodeDeviceOutputHead(0) + "second\n");
      },
      &out);
  CHECK(r == CUDA_SUCCESS);
  CHECK(out == "first\nsecond\n");
}

TEST_CASE("a dropped count alone is accepted and writes nothing to stdout") {
  std::string out;
  CUresult r = CallOnce(
      [](protocol::Connection& conn, std::uint64_t id) {
        SendOutput(conn, protocol::kFlagReply, id, protocol::EncodeDeviceOutputHead(1234));
      },
      &out);
  CHECK(r == CUDA_SUCCESS);
  CHECK(out.empty());
}

TEST_CASE("a malformed or misdirected DeviceOutput frame breaks the session") {
  struct Case {
    const char* what;
    BeforeReply send;
  };
  const Case cases[] = {
      {"a request that is not waiting",
       [](protocol::Connection& conn, std::uint64_t id) {
         SendOutput(conn, protocol::kFlagReply, id + 100, protocol::EncodeDeviceOutputHead(0) + "x\n");
       }},
      {"a payload shorter than its count",
       [](protocol::Connection& conn, std::uint64_t id) {
         SendOutput(conn, protocol::kFlagReply, id, std::string(4, '\0'));
       }},
      {"no reply flag",
       [](protocol::Connection& conn, std::uint64_t id) {
         SendOutput(conn, 0, id, protocol::EncodeDeviceOutputHead(0) + "x\n");
       }},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    std::string out;
    CHECK(CallOnce(c.send, &out) == CUDA_ERROR_DEVICE_UNAVAILABLE);
    CHECK(out.empty());
  }
}

}  // namespace
}  // namespace gpupool::client
