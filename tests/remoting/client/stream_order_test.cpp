#include "remoting/client/stream_order.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gpupool::client {
namespace {

constexpr auto kGenerous = std::chrono::seconds(30);  // only a broken build waits this long

// What ran, in order, from any thread.
struct Trace {
  std::mutex mu;
  std::vector<std::string> events;
  void Add(const std::string& e) {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back(e);
  }
  std::vector<std::string> Get() {
    std::lock_guard<std::mutex> lock(mu);
    return events;
  }
};

// A host step that blocks until Open().
struct Gate {
  std::promise<void> opened;
  std::shared_future<void> wait{opened.get_future().share()};
  void Open() { opened.set_value(); }
  std::function<void()> Step(Trace* trace, std::string name) {
    return [this, trace, name] {
      REQUIRE(wait.wait_for(kGenerous) == std::future_status::ready);
      trace->Add(name);
    };
  }
};

std::function<CUresult()> Send(Trace* trace, std::string name) {
  return [trace, name] {
    trace->Add(name);
    return CUDA_SUCCESS;
  };
}

const StreamKey kStream{1, 10}, kOther{1, 11}, kLegacy{1, 0};

TEST_CASE("stream order: streams without host steps send at once, on the caller's thread") {
  StreamOrder order;
  Trace trace;
  CHECK_FALSE(order.active());
  std::uint64_t ticket = 99;
  CHECK(order.Submit(kStream, true, Send(&trace, "a"), {}, &ticket) == CUDA_SUCCESS);
  CHECK(ticket == 0);
  CHECK(trace.Get() == std::vector<std::string>{"a"});
  CHECK(order.Done(kStream));
}

TEST_CASE("stream order: a host step holds the stream's later work until it returns") {
  StreamOrder order;
  Trace trace;
  Gate gate;
  order.SubmitHost(kStream, false, gate.Step(&trace, "host"));
  CHECK(order.active());
  std::uint64_t ticket = 0;
  CHECK(order.Submit(kStream, false, Send(&trace, "later"), {}, &ticket) == CUDA_SUCCESS);
  CHECK(ticket != 0);
  CHECK(order.Submit(kOther, false, Send(&trace, "other stream"), {}) == CUDA_SUCCESS);  // not held
  CHECK(trace.Get() == std::vector<std::string>{"other stream"});
  CHECK_FALSE(order.Done(kStream));
  gate.Open();
  order.Drain(kStream);
  CHECK(trace.Get() == std::vector<std::string>{"other stream", "host", "later"});
  CHECK(order.Done(kStream));
}

TEST_CASE("stream order: the legacy NULL stream and blocking streams wait for each other") {
  StreamOrder order;
  Trace trace;
  Gate gate;
  order.SubmitHost(kStream, /*blocking=*/true, gate.Step(&trace, "host on blocking stream"));
  std::uint64_t ticket = 0;
  CHECK(order.Submit(kLegacy, true, Send(&trace, "legacy"), {}, &ticket) == CUDA_SUCCESS);
  CHECK(ticket != 0);
  // A non-blocking stream does not wait for the legacy stream.
  CHECK(order.Submit(kOther, false, Send(&trace, "non-blocking"), {}) == CUDA_SUCCESS);
  // A blocking stream waits for the (now held) legacy stream.
  const StreamKey blocking{1, 12};
  CHECK(order.Submit(blocking, true, Send(&trace, "blocking"), {}) == CUDA_SUCCESS);
  CHECK(trace.Get() == std::vector<std::string>{"non-blocking"});
  gate.Open();
  order.DrainContext(1, false);
  CHECK(trace.Get() ==
        std::vector<std::string>{"non-blocking", "host on blocking stream", "legacy", "blocking"});
}

TEST_CASE("stream order: an operation waits for another stream's queued item it depends on") {
  StreamOrder order;
  Trace trace;
  Gate gate;
  order.SubmitHost(kStream, false, gate.Step(&trace, "host"));
  std::uint64_t record = 0;
  CHECK(order.Submit(kStream, false, Send(&trace, "record"), {}, &record) == CUDA_SUCCESS);
  CHECK(order.Submit(kOther, false, Send(&trace, "wait for record"), {{kStream, record + 1}}) ==
        CUDA_SUCCESS);
  CHECK_FALSE(order.Done(kOther));
  gate.Open();
  CHECK(order.Wait({kOther, 0}) == CUDA_SUCCESS);
  CHECK(trace.Get() == std::vector<std::string>{"host", "record", "wait for record"});
}

TEST_CASE("stream order: a host step's own waits never deadlock") {
  StreamOrder order;
  Trace trace;
  std::promise<void> done;
  Gate gate;
  order.SubmitHost(kOther, false, gate.Step(&trace, "other host"));  // older than the step below
  std::uint64_t newer = 0;
  order.SubmitHost(kStream, false, [&] {
    order.Drain(kStream);          // its own stream: items before the step only
    order.DrainContext(1, false);  // waits for the older host step on the other stream
    trace.Add("step drained");
    CHECK(order.Wait({kOther, newer + 1}) == CUDA_ERROR_NOT_PERMITTED);  // newer than the step
    done.set_value();
  });
  CHECK(order.Submit(kOther, false, Send(&trace, "newer on other"), {{kStream, 0}}, &newer) == CUDA_SUCCESS);
  gate.Open();
  REQUIRE(done.get_future().wait_for(kGenerous) == std::future_status::ready);
  order.DrainContext(1, false);
  CHECK(trace.Get() == std::vector<std::string>{"other host", "step drained", "newer on other"});
}

TEST_CASE("stream order: errors of queued sends are latched once, destroy goes last") {
  StreamOrder order;
  Trace trace;
  Gate gate;
  CHECK_FALSE(order.SubmitLast(kStream, Send(&trace, "destroy idle")));  // nothing held: caller sends
  order.SubmitHost(kStream, false, gate.Step(&trace, "host"));
  CHECK(order.Submit(kStream, false, [] { return CUDA_ERROR_INVALID_VALUE; }) == CUDA_SUCCESS);
  CHECK(order.SubmitLast(kStream, Send(&trace, "destroy")));
  gate.Open();
  order.Drain(kStream);
  CHECK(trace.Get() == std::vector<std::string>{"host", "destroy"});
  CHECK(order.TakeLatched() == CUDA_ERROR_INVALID_VALUE);
  CHECK(order.TakeLatched() == CUDA_SUCCESS);
}

}  // namespace
}  // namespace gpupool::client
