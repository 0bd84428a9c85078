// Pool health: the real plugin reading GPUPool.status from a fake API server, and the static mode.
#include <fstream>

#include "tests/deviceplugin/fake_api_server.h"
#include "tests/deviceplugin/plugin_harness.h"
#include "tests/deviceplugin/test_cert.h"

namespace gpupool::testing {
namespace {

bool AllHealth(const v1beta1::ListAndWatchResponse& list, const std::string& health) {
  for (const auto& d : list.devices())
    if (d.health() != health) return false;
  return list.devices_size() > 0;
}

void ExpectEveryResource(KubeletSimulator& kubelet, const std::string& health) {
  for (const auto& r : kResources) {
    INFO(r << " should turn " << health);
    CHECK(kubelet
              .WaitForList(
                  r, [&](const auto& l) { return AllHealth(l, health); }, kEventTimeout)
              .ok());
  }
}

std::vector<std::string> ApiArgs(const PluginHarness& h, const FakeApiServer& api) {
  return {"--gpus=2",
          "--pool-health=gpupool",
          "--kube-api-server=" + api.url(),
          "--kube-token-file=" + h.tmp.File("token"),
          "--kube-ca-file=" + h.tmp.File("unused-ca.crt"),
          "--health-interval=100ms"};
}

TEST_CASE("devices turn Unhealthy while the pool has no healthy GPU, and back") {
  PluginHarness h;
  FakeApiServer api;
  api.SetPool("team-a", false, {true, false});
  std::ofstream(h.tmp.File("token")) << "token-1\n";
  REQUIRE(h.kubelet.Start().ok());
  auto args = ApiArgs(h, api);
  args.push_back("--pool=team-a");
  h.StartPlugin(args);
  h.WaitRegistered(1);
  ExpectEveryResource(h.kubelet, "Healthy");
  CHECK(api.WaitForAuthorization("Bearer token-1", kEventTimeout));

  api.SetPool("team-a", false, {false, false});
  ExpectEveryResource(h.kubelet, "Unhealthy");
  api.SetPool("team-a", false, {false, true});
  ExpectEveryResource(h.kubelet, "Healthy");

  // The token file is re-read on every request (kubelet rotates projected tokens).
  std::ofstream(h.tmp.File("token")) << "token-2\n";
  CHECK(api.WaitForAuthorization("Bearer token-2", kEventTimeout));

  // API errors keep the last known state; a deleted pool has no healthy GPU.
  api.SetFailing(true);
  CHECK(h.plugin->WaitForLine("pool health unknown, keeping healthy", kEventTimeout).ok());
  api.SetFailing(false);
  api.DeletePool("team-a");
  ExpectEveryResource(h.kubelet, "Unhealthy");
  h.StopPlugin();
}

TEST_CASE("without --pool the pool marked default counts, already in the first list") {
  PluginHarness h;
  FakeApiServer api;
  api.SetPool("other", false, {true});
  api.SetPool("main", true, {false});
  std::ofstream(h.tmp.File("token")) << "t";
  REQUIRE(h.kubelet.Start().ok());
  h.StartPlugin(ApiArgs(h, api));
  h.WaitRegistered(1);
  // Printed before the servers start, so already read by StartPlugin.
  CHECK(h.plugin->output().find("pool health (GPUPool (the default pool) at " + api.url() + "): unhealthy") !=
        std::string::npos);
  for (const auto& r : kResources) {
    auto list = h.kubelet.WaitForList(
        r, [](const auto&) { return true; }, kEventTimeout);
    REQUIRE(list.ok());
    CHECK(AllHealth(*list, "Unhealthy"));
  }
  h.StopPlugin();
}

TEST_CASE("over HTTPS the API server's certificate is checked against --kube-ca-file") {
  PluginHarness h;
  REQUIRE(WriteSelfSignedCert(h.tmp.File("server")).ok());
  REQUIRE(WriteSelfSignedCert(h.tmp.File("stranger")).ok());
  FakeApiServer api(h.tmp.File("server"));
  api.SetPool("p", true, {false});
  std::ofstream(h.tmp.File("token")) << "t";
  REQUIRE(h.kubelet.Start().ok());
  const bool trusted = GENERATE(true, false);
  auto args = ApiArgs(h, api);
  args.push_back("--kube-ca-file=" +
                 h.tmp.File(trusted ? "server.crt" : "stranger.crt"));  // the later flag wins
  h.StartPlugin(args);
  h.WaitRegistered(1);
  INFO(h.plugin->output());
  if (trusted) {
    ExpectEveryResource(h.kubelet, "Unhealthy");  // read the pool: it has no healthy GPU
  } else {
    CHECK(h.plugin->output().find("pool health unknown") != std::string::npos);
    CHECK(h.plugin->output().find("SSL handshake") != std::string::npos);
    ExpectEveryResource(h.kubelet, "Healthy");  // never read: the first state stays
  }
  h.StopPlugin();
}

TEST_CASE("static pool health says once that it has no API access and advertises healthy") {
  PluginHarness h;
  REQUIRE(h.kubelet.Start().ok());
  h.StartPlugin({"--gpus=1", "--pool-health=static"});
  h.WaitRegistered(1);
  ExpectEveryResource(h.kubelet, "Healthy");
  h.plugin->Signal(SIGHUP);
  h.WaitRegistered(2);
  h.StopPlugin();
  const std::string& out = h.plugin->output();
  const auto first = out.find("no Kubernetes API access");
  REQUIRE(first != std::string::npos);
  CHECK(out.find("no Kubernetes API access", first + 1) == std::string::npos);
}

}  // namespace
}  // namespace gpupool::testing
