// The real gpupool-device-plugin against the kubelet simulator: registration, options, lists,
// restarts of either side, and SIGTERM.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <set>

#include "tests/deviceplugin/plugin_harness.h"

namespace gpupool::testing {
namespace {

std::vector<std::string> Ids(const v1beta1::ListAndWatchResponse& list) {
  std::vector<std::string> ids;
  for (const auto& d : list.devices()) ids.push_back(d.id());
  return ids;
}

bool AllHealth(const v1beta1::ListAndWatchResponse& list, const std::string& health) {
  for (const auto& d : list.devices())
    if (d.health() != health) return false;
  return list.devices_size() > 0;
}

std::map<std::string, std::vector<std::string>> CurrentIds(KubeletSimulator& kubelet) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& r : kResources) {
    auto list = kubelet.WaitForList(
        r, [](const auto&) { return true; }, kEventTimeout);
    REQUIRE(list.ok());
    out[r] = Ids(*list);
  }
  return out;
}

TEST_CASE("registers all three resources with consistent options and full lists") {
  PluginHarness h;
  REQUIRE(h.kubelet.Start().ok());
  h.StartPlugin({"--gpus=4", "--gpu-percent=350", "--gpu-memory=64"});
  h.WaitRegistered(1);
  CHECK(h.kubelet.rejected().empty());

  const std::map<std::string, std::pair<std::string, int>> want = {
      {deviceplugin::kGpuResource, {"gpupool-gpu.sock", 4}},
      {deviceplugin::kPercentResource, {"gpupool-gpu-percent.sock", 350}},
      {deviceplugin::kMemoryResource, {"gpupool-gpu-memory.sock", 64}},
  };
  for (const auto& [resource, expect] : want) {
    INFO(resource);
    const auto request = h.kubelet.last_request(resource);
    CHECK(request.version() == "v1beta1");
    CHECK(request.endpoint() == expect.first);
    CHECK(std::filesystem::is_socket(h.dir + "/" + expect.first));
    // The options kubelet fetched equal the ones sent in RegisterRequest.
    const auto options = h.kubelet.options(resource);
    CHECK(options.get_preferred_allocation_available());
    CHECK_FALSE(options.pre_start_required());
    CHECK(options.SerializeAsString() == request.options().SerializeAsString());

    auto list = h.kubelet.WaitForList(
        resource, [](const auto&) { return true; }, kEventTimeout);
    REQUIRE(list.ok());
    CHECK(list->devices_size() == expect.second);
    CHECK(AllHealth(*list, "Healthy"));
    const auto ids = Ids(*list);
    CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
    for (const auto& id : ids) CHECK(id.size() <= 63);
  }
  h.StopPlugin();
  for (const auto& [resource, expect] : want)
    CHECK_FALSE(std::filesystem::exists(h.dir + "/" + expect.first));
}

TEST_CASE("device IDs are stable across a plugin restart and it re-registers") {
  PluginHarness h;
  REQUIRE(h.kubelet.Start().ok());
  h.StartPlugin({"--gpus=3", "--gpu-percent=250", "--gpu-memory=40"});
  h.WaitRegistered(1);
  const auto before = CurrentIds(h.kubelet);
  h.StopPlugin();
  h.StartPlugin({"--gpus=3", "--gpu-percent=250", "--gpu-memory=40"});
  h.WaitRegistered(2);
  // Wait for the new instance's first list (the old stream ended when the old plugin stopped).
  CHECK(CurrentIds(h.kubelet) == before);
  CHECK(before.at(deviceplugin::kPercentResource).size() == 250);
}

TEST_CASE("kubelet restart: sockets deleted and kubelet.sock re-created -> every resource re-registers") {
  PluginHarness h;
  REQUIRE(h.kubelet.Start().ok());
  h.StartPlugin({"--gpus=2"});
  h.WaitRegistered(1);
  const auto before = CurrentIds(h.kubelet);
  REQUIRE(h.kubelet.Restart().ok());
  h.WaitRegistered(2);
  REQUIRE(h.plugin->WaitForLine("kubelet.sock re-created", kEventTimeout).ok());
  CHECK(CurrentIds(h.kubelet) == before);
  // The new endpoints answer.
  auto client = h.kubelet.Client(deviceplugin::kGpuResource);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1beta1::Empty empty;
  v1beta1::DevicePluginOptions options;
  CHECK(client->GetDevicePluginOptions(&ctx, empty, &options).ok());
  h.StopPlugin();
}

TEST_CASE("kubelet absent at start: the plugin waits and registers once kubelet appears") {
  PluginHarness h;
  h.StartPlugin({"--gpus=1"});
  REQUIRE(h.plugin->WaitForLine("waiting for kubelet", kEventTimeout).ok());
  REQUIRE(h.kubelet.Start().ok());
  h.WaitRegistered(1);
  h.StopPlugin();
}

TEST_CASE("a stale kubelet.sock nobody listens on: the plugin retries and registers once kubelet is back") {
  PluginHarness h;
  {
    // A socket file left by a dead kubelet: bound, never listening, closed.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = h.dir + "/kubelet.sock";
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::close(fd);
  }
  h.StartPlugin({"--gpus=1"});
  REQUIRE(h.plugin->WaitForLine("Register gpupool.io/gpu with", kEventTimeout).ok());
  REQUIRE(h.kubelet.Start().ok());  // replaces the stale file: inotify sees kubelet.sock created
  h.WaitRegistered(1);
  h.plugin->Signal(SIGTERM);
  auto rc = h.plugin->Wait(kEventTimeout);
  REQUIRE(rc.ok());
  CHECK(*rc == 0);
}

TEST_CASE("SIGHUP restarts the servers and registers again") {
  PluginHarness h;
  REQUIRE(h.kubelet.Start().ok());
  h.StartPlugin({"--gpus=1"});
  h.WaitRegistered(1);
  h.plugin->Signal(SIGHUP);
  h.WaitRegistered(2);
  h.StopPlugin();
}

}  // namespace
}  // namespace gpupool::testing
