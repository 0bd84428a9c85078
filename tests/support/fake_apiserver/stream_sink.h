// StreamSink: a watch's chunked HTTP body. Each event is one compact JSON object and "\n", flushed
// at once (sync) so the connection sends it as its own chunk.
#pragma once

#include <cpprest/producerconsumerstream.h>

#include <memory>
#include <string>

#include "tests/support/fake_apiserver/storage.h"

namespace gpupool::testing::fake {

class StreamSink final : public WatchSink {
 public:
  concurrency::streams::istream Body() { return buf_.create_istream(); }

  void Send(const Json& event) override {
    if (closed_) return;
    auto data = std::make_shared<std::string>(event.dump() + "\n");
    buf_.putn_nocopy(reinterpret_cast<const uint8_t*>(data->data()), data->size())
        .then([data](size_t) {})
        .wait();
    buf_.sync().wait();
  }
  void Close() override {
    if (closed_) return;
    closed_ = true;
    buf_.close(std::ios_base::out).wait();
  }
  size_t Backlog() const override { return buf_.in_avail(); }

 private:
  concurrency::streams::producer_consumer_buffer<uint8_t> buf_;
  bool closed_ = false;  // guarded by the storage lock, like every call here
};

}  // namespace gpupool::testing::fake
