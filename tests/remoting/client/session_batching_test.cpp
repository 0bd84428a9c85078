// Session batching and buffered replies, against a fake server on a Unix socket that records every
// frame it receives (opcode, request id) and answers the synchronous ones.
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "remoting/client/session.h"
#include "tests/remoting/client/fake_server.h"
#include "tests/support/process.h"

namespace gpupool::client {
namespace {

using gpupool::testing::TempDir;

constexpr std::uint16_t kAsyncOp = 0x0800;  // any opcode: the fake server does not decode payloads
constexpr std::uint16_t kSyncOp = 0x0602;
constexpr std::size_t kReplyTail = 100000;  // a bulk reply larger than the client's receive buffer

// Records every frame it receives (request ids, in order) and answers the synchronous ones.
class RecordingServer {
 public:
  explicit RecordingServer(const std::string& path)
      : server_(path, [this](protocol::Connection& conn, const protocol::FrameHeader& header) {
          Serve(conn, header);
        }) {}

  // Waits (up to 10 s) until `count` frames have arrived; returns their request ids in order.
  std::vector<std::uint64_t> WaitFor(std::size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return ids_.size() >= count; });
    return ids_;
  }

 private:
  void Serve(protocol::Connection& conn, const protocol::FrameHeader& header) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ids_.push_back(header.request_id);
    }
    cv_.notify_all();
    if ((header.flags & protocol::kFlagNoReply) != 0) return;
    // Odd request ids are answered with fields, even ones with a bulk tail.
    std::string reply(4, '\0');
    reply += header.request_id % 2 == 1 ? std::string("fields") : std::string(kReplyTail, 'x');
    (void)conn.SendFrame(header.opcode, protocol::kFlagReply, header.request_id, {reply});
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::uint64_t> ids_;
  testing::FakeServer server_;  // last: its thread stops (joins) before the members it uses go
};

std::unique_ptr<Session> Connect(const TempDir& dir) {
  ServerAddress address;
  address.endpoint = Endpoint{Endpoint::Kind::kUnix, "", 0, dir.File("s.sock")};
  auto session = Session::Open(address);
  REQUIRE(session.ok());
  return std::move(*session);
}

const std::string kArgs = "launch-arguments";

TEST_CASE("a batched asynchronous call reaches the server with no later call") {
  TempDir dir;
  RecordingServer server(dir.File("s.sock"));
  auto session = Connect(dir);
  REQUIRE(session->Send(kAsyncOp, true, 0, kArgs, nullptr, 0, nullptr) == CUDA_SUCCESS);
  // The program now only waits on the host: the flusher must send the batch by itself.
  CHECK(server.WaitFor(1) == std::vector<std::uint64_t>{1});
}

TEST_CASE("a synchronous call sends the batched calls first, in order, and reads pipelined replies") {
  TempDir dir;
  RecordingServer server(dir.File("s.sock"));
  auto session = Connect(dir);
  for (int i = 0; i < 3; ++i) REQUIRE(session->Send(kAsyncOp, true, 0, kArgs, nullptr, 0, nullptr) == 0);
  Pending with_fields, with_tail;
  std::vector<char> bulk(kReplyTail);
  with_tail.tail = bulk.data();
  with_tail.tail_size = bulk.size();
  REQUIRE(session->Send(kSyncOp, false, 0, kArgs, nullptr, 0, &with_tail) == CUDA_SUCCESS);    // id 4
  REQUIRE(session->Send(kSyncOp, false, 0, kArgs, nullptr, 0, &with_fields) == CUDA_SUCCESS);  // id 5
  REQUIRE(session->Wait(&with_fields) == CUDA_SUCCESS);  // reads id 4's reply first, then its own
  CHECK(with_fields.fields == "fields");
  REQUIRE(session->Wait(&with_tail) == CUDA_SUCCESS);
  CHECK(std::string(bulk.begin(), bulk.end()) == std::string(kReplyTail, 'x'));
  CHECK(server.WaitFor(5) == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
}

TEST_CASE("many asynchronous calls pass the batch limit and all arrive, in order") {
  TempDir dir;
  RecordingServer server(dir.File("s.sock"));
  auto session = Connect(dir);
  const std::string big(1000, 'p');  // 100 frames of ~1 KiB: past the 64 KiB limit at least once
  std::vector<std::uint64_t> expected;
  for (std::uint64_t i = 1; i <= 100; ++i) {
    REQUIRE(session->Send(kAsyncOp, true, 0, big, nullptr, 0, nullptr) == CUDA_SUCCESS);
    expected.push_back(i);
  }
  session->FlushAndStopBatching();
  CHECK(server.WaitFor(100) == expected);
}

}  // namespace
}  // namespace gpupool::client
