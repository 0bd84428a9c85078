#include <catch2/catch.hpp>

#include "operator/placement/ledger.h"

namespace gpupool::placement {
namespace {

constexpr std::uint64_t kGiB = 1ULL << 30;

std::vector<PoolGpu> TwoServers() {
  return {{"s1:7470", "GPU-1a", "H200", 100 * kGiB, true, ""},
          {"s1:7470", "GPU-1b", "H200", 100 * kGiB, true, ""},
          {"s2:7470", "GPU-2a", "H200", 80 * kGiB, true, ""}};
}

Binding One(const std::string& server, const std::string& uuid, int percent, std::uint64_t mem) {
  return Binding{"p", {GpuBinding{server, uuid, percent, mem}}};
}

PodRef Pod(const std::string& uid) {
  return PodRef{"ns", "pod-" + uid, uid};
}

TEST_CASE("ledger: claims refused instead of trusted") {
  Ledger ledger;
  ledger.SetPool("p", Policy::kBinpack, true, TwoServers());
  REQUIRE(ledger.Claim(Pod("u1"), One("s1:7470", "GPU-1a", 60, 60 * kGiB)).ok());

  struct Row {
    const char* what;
    std::string uid;
    Binding binding;
    Code code;
    const char* message_part;
  };
  const std::vector<Row> rows = {
      {"same claim again is idempotent", "u1", One("s1:7470", "GPU-1a", 60, 60 * kGiB), Code::kOk, ""},
      {"different binding for a held pod", "u1", One("s1:7470", "GPU-1b", 60, 60 * kGiB), Code::kConflict,
       "edited by someone else"},
      {"percent overbooks", "u2", One("s1:7470", "GPU-1a", 50, 10 * kGiB), Code::kFailedPrecondition,
       "would overbook GPU GPU-1a on s1:7470: 60% and 60.0 GiB already held by ns/pod-u1"},
      {"memory overbooks", "u2", One("s1:7470", "GPU-1a", 10, 50 * kGiB), Code::kFailedPrecondition,
       "would overbook"},
      {"unknown GPU", "u2", One("s1:7470", "GPU-zz", 10, kGiB), Code::kNotFound, "GPU-zz on s1:7470"},
      {"unknown server", "u2", One("s9:7470", "GPU-1a", 10, kGiB), Code::kNotFound, "pool p does not have"},
      {"unknown pool", "u2", Binding{"q", {GpuBinding{"s1:7470", "GPU-1a", 10, kGiB}}}, Code::kNotFound,
       "pool q"},
      {"fits beside", "u2", One("s1:7470", "GPU-1a", 40, 40 * kGiB), Code::kOk, ""},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    Status s = ledger.Claim(Pod(row.uid), row.binding);
    CHECK(s.code() == row.code);
    CHECK_THAT(s.message(), Catch::Contains(row.message_part));
  }
  const auto usage = ledger.Usage("p");
  REQUIRE(usage.size() == 3);
  CHECK(usage[0].allocated_percent == 100);
  CHECK(usage[0].allocated_memory_bytes == 100 * kGiB);
  CHECK(usage[0].pods == 2);
  CHECK(usage[1].allocated_percent == 0);
}

TEST_CASE("ledger: a multi-GPU claim is all or nothing") {
  Ledger ledger;
  ledger.SetPool("p", Policy::kBinpack, true, TwoServers());
  REQUIRE(ledger.Claim(Pod("u1"), One("s1:7470", "GPU-1b", 100, kGiB)).ok());
  Binding both{"p", {{"s1:7470", "GPU-1a", 50, kGiB}, {"s1:7470", "GPU-1b", 50, kGiB}}};
  CHECK(ledger.Claim(Pod("u2"), both).code() == Code::kFailedPrecondition);
  CHECK(ledger.Usage("p")[0].allocated_percent == 0);
  CHECK_FALSE(ledger.Find("u2").has_value());
}

TEST_CASE("ledger: release frees the share and is idempotent") {
  Ledger ledger;
  ledger.SetPool("p", Policy::kBinpack, true, TwoServers());
  REQUIRE(ledger.Claim(Pod("u1"), One("s2:7470", "GPU-2a", 100, 80 * kGiB)).ok());
  CHECK(ledger.Claim(Pod("u2"), One("s2:7470", "GPU-2a", 1, 0)).code() == Code::kFailedPrecondition);
  CHECK(ledger.Release("u1") == One("s2:7470", "GPU-2a", 100, 80 * kGiB));
  CHECK_FALSE(ledger.Release("u1").has_value());
  CHECK(ledger.Claim(Pod("u2"), One("s2:7470", "GPU-2a", 1, 0)).ok());
  CHECK(ledger.Pods() == std::vector<std::string>{"u2"});
  CHECK(ledger.Holder("u2")->name == "pod-u2");
  CHECK(ledger.UidOfPod("ns/pod-u2") == "u2");
  CHECK_FALSE(ledger.UidOfPod("ns/pod-u1").has_value());
}

TEST_CASE("ledger: claims survive a GPU leaving the inventory") {
  Ledger ledger;
  ledger.SetPool("p", Policy::kBinpack, true, TwoServers());
  REQUIRE(ledger.Claim(Pod("u1"), One("s2:7470", "GPU-2a", 70, kGiB)).ok());
  ledger.SetPool("p", Policy::kBinpack, true, {TwoServers()[0]});
  ledger.SetPool("p", Policy::kBinpack, true, TwoServers());
  CHECK(ledger.Claim(Pod("u2"), One("s2:7470", "GPU-2a", 40, kGiB)).code() == Code::kFailedPrecondition);
}

TEST_CASE("ledger: place by policy, never onto unhealthy or full GPUs") {
  Ledger ledger;
  auto gpus = TwoServers();
  ledger.SetPool("p", Policy::kBinpack, true, gpus);
  REQUIRE(ledger.Claim(Pod("u1"), One("s1:7470", "GPU-1b", 50, 50 * kGiB)).ok());

  auto half = ledger.Place("p", Request{1, 50, std::nullopt, false, ""});
  REQUIRE(half.ok());
  CHECK(*half == One("s1:7470", "GPU-1b", 50, 50 * kGiB));  // binpack: the half-used GPU

  ledger.SetPool("p", Policy::kSpread, true, gpus);
  auto spread = ledger.Place("p", Request{1, 50, 8, false, ""});
  REQUIRE(spread.ok());
  CHECK(*spread == One("s1:7470", "GPU-1a", 50, 8 * kGiB));  // spread: an empty GPU, server order

  gpus[0].healthy = false;
  gpus[2].healthy = false;
  ledger.SetPool("p", Policy::kSpread, true, gpus);
  auto only = ledger.Place("p", Request{1, 50, std::nullopt, false, ""});
  REQUIRE(only.ok());
  CHECK(only->gpus[0].uuid == "GPU-1b");
  auto none = ledger.Place("p", Request{1, 60, std::nullopt, false, ""});
  CHECK(none.status().code() == Code::kResourceExhausted);
  CHECK_THAT(none.status().message(), Catch::Contains("0 of 1 healthy GPUs have 60% free"));

  // Two GPUs fit, one on each server (GPU-1b is half used): a process sees one server's GPUs, so
  // no placement.
  gpus[0].healthy = gpus[2].healthy = true;
  ledger.SetPool("p", Policy::kSpread, true, gpus);
  auto apart = ledger.Place("p", Request{2, 60, std::nullopt, false, ""});
  CHECK(apart.status().code() == Code::kResourceExhausted);
  CHECK_THAT(apart.status().message(), Catch::Contains("the pod needs 2 of one server"));
  auto together = ledger.Place("p", Request{2, 40, std::nullopt, false, ""});
  REQUIRE(together.ok());
  CHECK(together->gpus.size() == 2);
  CHECK(together->gpus[0].server == together->gpus[1].server);

  auto too_big = ledger.Place("p", Request{1, 10, 120, false, ""});
  CHECK(too_big.status().code() == Code::kInvalidArgument);
  CHECK_THAT(too_big.status().message(), Catch::Contains("more than its largest GPU has (100.0 GiB)"));
  CHECK(ledger.Place("nope", Request{}).status().code() == Code::kNotFound);
}

TEST_CASE("ledger: a node-local request lands only on servers whose node is known, its own when pinned") {
  Ledger ledger;
  auto gpus = TwoServers();
  gpus[2].node = "gpu-02";  // s2's node is known; s1's is not (listed by address only)
  ledger.SetPool("p", Policy::kBinpack, true, gpus);
  CHECK(ledger.NodeOf("p", "s2:7470") == "gpu-02");
  CHECK(ledger.NodeOf("p", "s1:7470").empty());
  auto local = ledger.Place("p", Request{1, 50, std::nullopt, true, ""});
  REQUIRE(local.ok());
  CHECK(local->gpus[0].server == "s2:7470");
  auto pinned = ledger.Place("p", Request{1, 50, std::nullopt, true, "gpu-02"});
  REQUIRE(pinned.ok());
  CHECK(pinned->gpus[0].uuid == "GPU-2a");
  auto elsewhere = ledger.Place("p", Request{1, 50, std::nullopt, true, "gpu-09"});
  CHECK(elsewhere.status().code() == Code::kResourceExhausted);
  CHECK_THAT(elsewhere.status().message(), Catch::Contains("on node gpu-09 (gpupool.io/locality: node)"));
  auto two = ledger.Place("p", Request{2, 50, std::nullopt, true, ""});  // s2 has one GPU
  CHECK(two.status().code() == Code::kResourceExhausted);
  CHECK_THAT(two.status().message(), Catch::Contains("on a server whose node is known"));
  CHECK(ledger.Place("p", Request{2, 50, std::nullopt, false, ""}).ok());  // anywhere: s1's two
}

TEST_CASE("ledger: place then claim never double books") {
  Ledger ledger;
  ledger.SetPool("p", Policy::kBinpack, true, TwoServers());
  int bound = 0;
  for (int i = 0; i < 20; ++i) {
    auto b = ledger.Place("p", Request{1, 30, std::nullopt, false, ""});
    if (!b.ok()) {
      CHECK(b.status().code() == Code::kResourceExhausted);
      continue;
    }
    REQUIRE(ledger.Claim(Pod("u" + std::to_string(i)), *b).ok());
    ++bound;
  }
  CHECK(bound == 9);  // 3 per GPU
  for (const GpuUsage& u : ledger.Usage("p")) {
    CHECK(u.allocated_percent == 90);
    CHECK(u.allocated_memory_bytes <= u.gpu.memory_bytes);
  }
}

TEST_CASE("ledger: the default pool") {
  Ledger ledger;
  CHECK(ledger.DefaultPool().status().code() == Code::kNotFound);
  ledger.SetPool("a", Policy::kBinpack, false, {});
  ledger.SetPool("b", Policy::kBinpack, true, {});
  CHECK(ledger.DefaultPool().value() == "b");
  ledger.SetPool("c", Policy::kBinpack, true, {});
  CHECK(ledger.DefaultPool().status().code() == Code::kFailedPrecondition);
  ledger.RemovePool("c");
  CHECK(ledger.HasPool("b"));
  CHECK_FALSE(ledger.HasPool("c"));
}

}  // namespace
}  // namespace gpupool::placement
