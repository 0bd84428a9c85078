// A pod's CUDA program through the real libcuda.so.1 against a gpupool-server that checks pod tokens
// (--pod-token-review, with the fake Kubernetes API server): the library reads the token file that
// GPUPOOL_POD_TOKEN_FILE names for every connection and the session gets the admitted pod's share.
#include <catch2/catch.hpp>
#include <fstream>

#include "tests/cli/cli_runner.h"
#include "tests/remoting/server/control_client.h"
#include "tests/support/fake_apiserver/fake_apiserver.h"

namespace gpupool::testing {

#ifdef GPUPOOL_DEVICE_QUERY
TEST_CASE("run: a pod's program proves its pod with the token file, re-read for every connection", "[run]") {
  using Json = nlohmann::json;
  auto api = FakeApiServer::Start();
  REQUIRE(api.ok());
  FakeApiServer& k8s = **api;
  REQUIRE(k8s.Create("serviceaccounts", "team", {{"metadata", {{"name", "runner"}}}}).ok());
  std::map<std::string, std::string> uid;
  for (const char* name : {"admitted", "other"}) {
    auto pod = k8s.Create("pods", "team",
                          {{"metadata", {{"name", name}}},
                           {"spec", {{"containers", Json::array({{{"name", "main"}, {"image", "x"}}})}}}});
    REQUIRE(pod.ok());
    uid[name] = (*pod)["metadata"]["uid"];
  }
  auto token = [&](const std::string& pod) {
    auto issued =
        k8s.CreateToken("team", "runner",
                        {{"audiences", {"gpupool.io"}},
                         {"boundObjectRef", {{"kind", "Pod"}, {"apiVersion", "v1"}, {"name", pod}}}});
    REQUIRE(issued.ok());
    return (*issued)["status"]["token"].get<std::string>();
  };

  auto server = Subprocess::Start({BinDir() + "/gpupool-server", "--device", "emulated", "--listen",
                                   "127.0.0.1:0", "--control-listen", "127.0.0.1:0", "--pod-token-review",
                                   "--kube-api-server", k8s.url(), "--pod-token-cache-ttl", "0",
                                   kOperatorControlFlags[0], kOperatorControlFlags[1]});
  REQUIRE(server.ok());
  auto control_line = server->WaitForLine("control on ", kCliTimeout);
  REQUIRE(control_line.ok());
  std::string control = control_line->substr(control_line->find("control on ") + 11);
  auto line = server->WaitForLine("listening on 127.0.0.1:", kCliTimeout);
  REQUIRE(line.ok());
  std::string address = line->substr(line->find("127.0.0.1:"));
  for (std::string* s : {&control, &address}) {
    while (!s->empty() && (s->back() == '\n' || s->back() == '\r')) s->pop_back();
  }
  const std::string operator_token = OperatorToken(k8s);
  auto stub = ControlStub(control);
  control::v1::Inventory inventory;
  REQUIRE(stub->GetInventory(ControlContext(operator_token).get(), {}, &inventory).ok());
  control::v1::AdmitResponse admitted;
  REQUIRE(
      stub->Admit(ControlContext(operator_token).get(),
                  AdmitRequest(uid["admitted"], inventory.gpus(0).uuid(), 50, 1ull << 30, "team", "admitted"),
                  &admitted)
          .ok());

  TempDir dir;
  const std::string file = dir.File("token");  // what the kubelet keeps up to date in the pod
  std::ofstream(file) << token("admitted") << "\n";
  auto ok = RunGpupool({"run", "--server", address, "--", GPUPOOL_DEVICE_QUERY},
                       {{"GPUPOOL_POD_TOKEN_FILE", file}});
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK(ok.output.find("of 1.0 GiB") != std::string::npos);  // the admitted pod's memory share
  CHECK(ok.output.find("data intact") != std::string::npos);

  // The file now holds another pod's token (a rotation, or a token of a pod not admitted here): the
  // next connection sends it and is refused.
  std::ofstream(file, std::ios::trunc) << token("other") << "\n";
  auto other = RunGpupool({"run", "--server", address, "--", GPUPOOL_DEVICE_QUERY},
                          {{"GPUPOOL_POD_TOKEN_FILE", file}});
  INFO(other.output);
  CHECK(other.exit_code != 0);
  CHECK(other.output.find("pod " + uid["other"] + " is not admitted") != std::string::npos);

  auto none = RunGpupool({"run", "--server", address, "--", GPUPOOL_DEVICE_QUERY});
  INFO(none.output);
  CHECK(none.exit_code != 0);
  CHECK(none.output.find("requires the pod's service-account token") != std::string::npos);

  auto missing = RunGpupool({"run", "--server", address, "--", GPUPOOL_DEVICE_QUERY},
                            {{"GPUPOOL_POD_TOKEN_FILE", dir.File("absent")}});
  INFO(missing.output);
  CHECK(missing.exit_code != 0);
  CHECK(missing.output.find("GPUPOOL_POD_TOKEN_FILE") != std::string::npos);
}
#endif

}  // namespace gpupool::testing
