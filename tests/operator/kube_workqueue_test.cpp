// WorkQueue semantics as client-go's: de-duplication, dirty/processing, delays, rate limits, shutdown.
#include <atomic>
#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "operator/kube/workqueue.h"
#include "tests/operator/kube_test_util.h"

namespace gpupool::kube {
namespace {

using namespace std::chrono_literals;

TEST_CASE("workqueue: adds are de-duplicated and a key in process is queued again on Done", "[kube]") {
  WorkQueue q;
  q.Add("a");
  q.Add("b");
  q.Add("a");
  CHECK(q.Len() == 2);
  auto a = q.Get();
  REQUIRE(a == "a");
  q.Add("a");  // dirty while processing: not handed out twice
  CHECK(q.Len() == 1);
  CHECK(q.Get() == "b");
  CHECK_FALSE(q.GetFor(20ms).has_value());
  q.Done("a");
  CHECK(q.Get() == "a");
  q.Done("a");
  q.Done("b");
  CHECK(q.Len() == 0);
}

TEST_CASE("workqueue: AddAfter waits, and re-adding only moves the time earlier", "[kube]") {
  WorkQueue q;
  q.AddAfter("late", 10s);
  q.AddAfter("late", 30ms);
  q.AddAfter("late", 20s);
  CHECK(q.Waiting() == 1);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(q.GetFor(5s) == "late");
  auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(waited >= 25ms);
  CHECK(waited < 5s);
  q.AddAfter("now", 0ms);
  CHECK(q.Len() == 1);
}

TEST_CASE("workqueue: per-key exponential backoff, reset by Forget", "[kube]") {
  WorkQueue q(RateLimit{5ms, 40ms});
  std::vector<long> delays;
  for (int i = 0; i < 6; ++i) {
    delays.push_back(q.NextDelay("k").count());
    q.AddRateLimited("k");
    REQUIRE(q.GetFor(5s) == "k");
    q.Done("k");
  }
  CHECK(delays == std::vector<long>{5, 10, 20, 40, 40, 40});
  CHECK(q.NumRequeues("k") == 6);
  CHECK(q.NextDelay("other").count() == 5);  // per key
  q.Forget("k");
  CHECK(q.NumRequeues("k") == 0);
  CHECK(q.NextDelay("k").count() == 5);
}

TEST_CASE("workqueue: shutdown hands out what is queued, then ends, drain waits for Done", "[kube]") {
  WorkQueue q;
  q.Add("x");
  q.AddAfter("never", 10s);
  q.ShutDown();
  q.Add("ignored");
  CHECK(q.ShuttingDown());
  CHECK(q.Get() == "x");
  CHECK_FALSE(q.Get().has_value());

  WorkQueue d;
  d.Add("busy");
  REQUIRE(d.Get() == "busy");
  std::atomic<bool> drained{false};
  std::thread t([&] {
    d.ShutDownWithDrain();
    drained = true;
  });
  REQUIRE(testing::Eventually([&] { return d.ShuttingDown(); }));
  CHECK_FALSE(drained);
  d.Done("busy");
  t.join();
  CHECK(drained);
}

TEST_CASE("workqueue: concurrent workers never hold the same key at once", "[kube]") {
  WorkQueue q;
  std::mutex mu;
  std::set<std::string> held;
  std::atomic<bool> overlap{false};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = q.Get()) {
        {
          std::lock_guard lock(mu);
          if (!held.insert(*key).second) overlap = true;
        }
        std::this_thread::yield();
        {
          std::lock_guard lock(mu);
          held.erase(*key);
        }
        ++processed;
        q.Done(*key);
      }
    });
  }
  for (int i = 0; i < 2000; ++i) q.Add("k" + std::to_string(i % 7));
  REQUIRE(testing::Eventually([&] { return q.Len() == 0; }));
  q.ShutDownWithDrain();
  for (auto& t : workers) t.join();
  CHECK_FALSE(overlap);
  CHECK(processed >= 7);
  CHECK(processed <= 2000);
}

}  // namespace
}  // namespace gpupool::kube
