// A fake gpupool-server for tests of the client's Session: listens on a Unix socket, accepts one
// client, answers its Hello, declines the copy ring (as a server that cannot share memory with the
// client does), then hands every frame to `serve` until the client goes away.
//
// Thread-safety: `serve` runs on the fake server's own thread.
#pragma once

#include <cuda.h>

#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "remoting/protocol/copy_ring.h"
#include "remoting/protocol/frame_reader.h"
#include "remoting/protocol/handshake.h"
#include "remoting/protocol/transport.h"

namespace gpupool::client::testing {

class FakeServer {
 public:
  using Serve = std::function<void(protocol::Connection&, const protocol::FrameHeader&)>;

  FakeServer(const std::string& path, Serve serve) : serve_(std::move(serve)) {
    auto listener = protocol::Listener::Listen(Endpoint{Endpoint::Kind::kUnix, "", 0, path});
    REQUIRE(listener.ok());
    listener_ = std::make_unique<protocol::Listener>(std::move(*listener));
    thread_ = std::thread([this] { Run(); });
  }
  ~FakeServer() { thread_.join(); }
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

 private:
  void Run() {
    auto conn = listener_->Accept();
    if (!conn.ok()) return;
    protocol::FrameReader reader(&*conn);
    std::string_view payload;
    if (!reader.Next(&payload).ok()) return;  // Hello
    (void)conn->SendFrame(protocol::kOpHelloOk, protocol::kFlagReply, 0,
                          {protocol::EncodeHelloOk({7, "test", "emulated"})});
    while (true) {
      auto header = reader.Next(&payload);
      if (!header.ok()) return;
      if (header->opcode == protocol::kOpOpenCopyRing) {
        (void)conn->SendFrame(protocol::kOpOpenCopyRing, protocol::kFlagReply, header->request_id,
                              {protocol::EncodeRingGeometry({CUDA_ERROR_NOT_SUPPORTED, 0, 0, 0})});
        continue;
      }
      serve_(*conn, *header);
    }
  }

  Serve serve_;
  std::unique_ptr<protocol::Listener> listener_;
  std::thread thread_;
};

}  // namespace gpupool::client::testing
