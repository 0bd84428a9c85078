// Allocate, GetPreferredAllocation and unknown IDs through the real plugin's sockets.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "tests/deviceplugin/plugin_harness.h"

namespace gpupool::testing {
namespace {

v1beta1::AllocateRequest AllocateOf(const std::vector<std::string>& ids) {
  v1beta1::AllocateRequest request;
  auto* c = request.add_container_requests();
  for (const auto& id : ids) c->add_devices_ids(id);
  return request;
}

grpc::Status Call(KubeletSimulator& kubelet, const std::string& resource,
                  const v1beta1::AllocateRequest& request, v1beta1::AllocateResponse* response) {
  auto client = kubelet.Client(resource);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return client->Allocate(&ctx, request, response);
}

TEST_CASE("Allocate injects the client library mount and environment for every resource") {
  PluginHarness h;
  REQUIRE(h.kubelet.Start().ok());
  const bool cdi = GENERATE(false, true);
  std::vector<std::string> args = {"--gpus=2", "--gpu-memory=32", "--client-lib-dir=/host/gpupool/lib"};
  if (cdi) args.push_back("--cdi-kind=gpupool.io/client");
  // TLS settings go with the CDI case: one run with them, one without.
  if (cdi)
    args.insert(args.end(),
                {"--tls-ca-file=/opt/gpupool/lib/gpupool-ca.crt", "--tls-server-name=gpupool-server"});
  h.StartPlugin(args);
  h.WaitRegistered(1);
  const std::map<std::string, std::vector<std::string>> requests = {
      {deviceplugin::kGpuResource, {"gpu-001"}},
      {deviceplugin::kPercentResource, {"gpu-000-pct-000", "gpu-000-pct-001"}},
      {deviceplugin::kMemoryResource, {"mem-00000", "mem-00031"}},
  };
  for (const auto& [resource, ids] : requests) {
    INFO(resource << " cdi=" << cdi);
    v1beta1::AllocateResponse response;
    auto status = Call(h.kubelet, resource, AllocateOf(ids), &response);
    REQUIRE(status.ok());
    REQUIRE(response.container_responses_size() == 1);
    const auto& c = response.container_responses(0);
    REQUIRE(c.mounts_size() == 1);
    CHECK(c.mounts(0).host_path() == "/host/gpupool/lib");
    CHECK(c.mounts(0).container_path() == "/opt/gpupool/lib");
    CHECK(c.mounts(0).read_only());
    CHECK(c.envs().at("LD_LIBRARY_PATH") == "/opt/gpupool/lib");
    CHECK(c.envs().at("GPUPOOL_POD_INFO") == "/etc/gpupool/pod/annotations");
    if (cdi) {
      CHECK(c.envs().at("GPUPOOL_TLS_CA_FILE") == "/opt/gpupool/lib/gpupool-ca.crt");
      CHECK(c.envs().at("GPUPOOL_TLS_SERVER_NAME") == "gpupool-server");
    }
    CHECK(c.envs().size() == (cdi ? 4u : 2u));
    CHECK(c.devices_size() == 0);  // no device nodes: the GPU is remote
    if (cdi) {
      REQUIRE(c.cdi_devices_size() == 1);
      CHECK(c.cdi_devices(0).name() == "gpupool.io/client=client");
    } else {
      CHECK(c.cdi_devices_size() == 0);
    }
  }
}

TEST_CASE("Allocate offers the node's server socket, read-only, only while it exists") {
  PluginHarness h;
  REQUIRE(h.kubelet.Start().ok());
  const std::string socket_dir = h.tmp.File("run-gpupool");
  REQUIRE(::mkdir(socket_dir.c_str(), 0755) == 0);
  const std::string socket = socket_dir + "/server.sock";
  h.StartPlugin({"--gpus=2", "--local-socket=" + socket});
  h.WaitRegistered(1);
  auto allocate = [&h] {
    v1beta1::AllocateResponse response;
    auto status = Call(h.kubelet, deviceplugin::kGpuResource, AllocateOf({"gpu-000"}), &response);
    REQUIRE(status.ok());
    REQUIRE(response.container_responses_size() == 1);
    return response.container_responses(0);
  };
  auto offered = [](const v1beta1::ContainerAllocateResponse& c) {
    return c.envs().count("GPUPOOL_LOCAL_SOCKET") != 0 || c.mounts_size() != 1;
  };

  CHECK_FALSE(offered(allocate()));  // no server on this node (yet)
  std::ofstream(socket) << "a file, not a socket\n";
  CHECK_FALSE(offered(allocate()));
  REQUIRE(::unlink(socket.c_str()) == 0);

  REQUIRE(MakeSocketFile(socket));  // the server started: Allocate only checks that the socket is there
  const auto c = allocate();
  REQUIRE(c.mounts_size() == 2);
  CHECK(c.mounts(0).container_path() == "/opt/gpupool/lib");
  CHECK(c.mounts(1).host_path() == socket_dir);
  CHECK(c.mounts(1).container_path() == "/run/gpupool");
  CHECK(c.mounts(1).read_only());
  CHECK(c.envs().at("GPUPOOL_LOCAL_SOCKET") == "/run/gpupool/server.sock");
  CHECK(c.envs().at("GPUPOOL_POD_INFO") == "/etc/gpupool/pod/annotations");

  REQUIRE(::unlink(socket.c_str()) == 0);  // the server is gone: nothing is offered
  CHECK_FALSE(offered(allocate()));
}

TEST_CASE("Allocate of unknown device IDs is an error naming the ID") {
  PluginHarness h;
  REQUIRE(h.kubelet.Start().ok());
  h.StartPlugin({"--gpus=2"});
  h.WaitRegistered(1);
  struct Case {
    std::string resource;
    std::vector<std::string> ids;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {deviceplugin::kGpuResource, {"gpu-002"}, "gpu-002"},         // one past the capacity
      {deviceplugin::kGpuResource, {"gpu-000", "bogus"}, "bogus"},  // one good, one bad
      {deviceplugin::kPercentResource, {"gpu-000"}, "gpu-000"},     // another resource's ID
      {deviceplugin::kMemoryResource, {"mem-00080"}, "mem-00080"},  // default 80 GiB: 0..79
      {deviceplugin::kGpuResource, {}, "no devices"},               // empty container request
  };
  for (const auto& c : cases) {
    INFO(c.resource << " " << c.needle);
    v1beta1::AllocateResponse response;
    auto status = Call(h.kubelet, c.resource, AllocateOf(c.ids), &response);
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(status.error_message().find(c.needle) != std::string::npos);
  }
  v1beta1::AllocateResponse response;
  CHECK(Call(h.kubelet, deviceplugin::kGpuResource, v1beta1::AllocateRequest(), &response).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_CASE("GetPreferredAllocation packs percent units of one GPU slot together") {
  PluginHarness h;
  REQUIRE(h.kubelet.Start().ok());
  h.StartPlugin({"--gpus=4", "--gpu-percent=350"});
  h.WaitRegistered(1);
  auto list = h.kubelet.WaitForList(
      deviceplugin::kPercentResource, [](const auto&) { return true; }, kEventTimeout);
  REQUIRE(list.ok());
  // Slot gpu-000 has 70 units in use (not available); slots 1 and 2 are whole; slot 3 has 50 units.
  std::vector<std::string> available;
  for (const auto& d : list->devices())
    if (d.id().rfind("gpu-000-pct-0", 0) != 0 || d.id() >= "gpu-000-pct-070") available.push_back(d.id());

  auto client = h.kubelet.Client(deviceplugin::kPercentResource);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1beta1::PreferredAllocationRequest request;
  auto* c = request.add_container_requests();
  for (const auto& id : available) c->add_available_deviceids(id);
  c->set_allocation_size(30);
  v1beta1::PreferredAllocationResponse response;
  REQUIRE(client->GetPreferredAllocation(&ctx, request, &response).ok());
  REQUIRE(response.container_responses_size() == 1);
  const auto& ids = response.container_responses(0).deviceids();
  REQUIRE(ids.size() == 30);
  // The 30 free units of the partly used slot fit exactly, leaving the whole slots whole.
  for (const auto& id : ids) CHECK(id.rfind("gpu-000-pct-", 0) == 0);
}

}  // namespace
}  // namespace gpupool::testing
