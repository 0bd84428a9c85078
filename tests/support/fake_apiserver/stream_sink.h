// StreamSink: a watch's streamed HTTP body. Each event is one compact JSON object and "\n", handed to
// the connection at once, so that a client sees it without waiting for the next.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "operator/http/body_stream.h"
#include "tests/support/fake_apiserver/storage.h"

namespace gpupool::testing::fake {

class StreamSink final : public WatchSink {
 public:
  explicit StreamSink(std::shared_ptr<http::BodyStream> body) : body_(std::move(body)) {}

  void Send(const Json& event) override { body_->Write(event.dump() + "\n"); }
  void Close() override { body_->Close(); }
  size_t Backlog() const override { return body_->Unsent(); }
  bool Gone() const override { return body_->Abandoned(); }

 private:
  std::shared_ptr<http::BodyStream> body_;
};

}  // namespace gpupool::testing::fake
