// RetryOnConflict: racing read-modify-writes all land; other errors stop it at once.
#include <catch2/catch.hpp>
#include <thread>

#include "common/kube/errors.h"
#include "operator/kube/retry.h"
#include "tests/operator/kube_test_util.h"

namespace gpupool::kube {
namespace {

using testing::ClientFor;
using testing::StartFake;
using testing::TestPod;

TEST_CASE("retry: concurrent increments survive conflicts", "[kube]") {
  auto server = StartFake();
  auto client = ClientFor(*server);
  REQUIRE(client->Create(Pods(), "default", TestPod("counter")).ok());
  std::atomic<int> conflicts{0}, failed{0};
  Backoff patient{std::chrono::milliseconds(1), 1.0, std::chrono::milliseconds(5), 1.0, 200};
  auto bump = [&] {
    for (int i = 0; i < 10; ++i) {
      Status s = RetryOnConflict(patient, [&] {
        auto pod = client->Get(Pods(), "default", "counter");  // re-read from the API every attempt
        if (!pod.ok()) return pod.status();
        int n =
            std::stoi((*pod)["metadata"].value("annotations", Json::object()).value("n", std::string("0")));
        (*pod)["metadata"]["annotations"]["n"] = std::to_string(n + 1);
        Status st = client->Update(Pods(), *pod).status();
        if (IsConflict(st)) ++conflicts;
        return st;
      });
      if (!s.ok()) ++failed;  // checked on this thread below: Catch's assertions are not thread-safe
    }
  };
  std::thread a(bump), b(bump), c(bump);
  a.join();
  b.join();
  c.join();
  CHECK(failed == 0);
  auto pod = client->Get(Pods(), "default", "counter");
  CHECK((*pod)["metadata"]["annotations"]["n"] == "30");
  INFO("conflicts seen: " << conflicts.load());
}

TEST_CASE("retry: stops at the first non-conflict and gives up after its steps", "[kube]") {
  int calls = 0;
  Status nf = RetryOnConflict([&] {
    ++calls;
    return Status::NotFound("x");
  });
  CHECK(nf.code() == Code::kNotFound);
  CHECK(calls == 1);
  auto server = StartFake();
  auto client = ClientFor(*server);
  REQUIRE(client->Create(Pods(), "default", TestPod("p")).ok());
  Json stale = *client->Get(Pods(), "default", "p");
  REQUIRE(client->Patch(Pods(), "default", "p", PatchType::kMerge, {{"metadata", {{"labels", {{"a", "b"}}}}}})
              .ok());
  calls = 0;
  Status s = RetryOnConflict([&] {
    ++calls;
    return client->Update(Pods(), stale).status();  // never re-reads: conflicts every time
  });
  CHECK(IsConflict(s));
  CHECK(calls == kDefaultRetry.steps);
}

}  // namespace
}  // namespace gpupool::kube
