// Control API helpers for tests that run gpupool-server (remoting.server, cli.run): a stub for "host:port", a
// context with the tests' deadline (and a bearer token), an admission of one pod with one GPU share,
// and the operator's identity on a server with --pod-token-review: a gpupool.io token of service
// account gpupool/gpupool-operator bound to its pod, allowed by --control-service-account.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "gpupool/control/v1/control.grpc.pb.h"
#include "tests/support/fake_apiserver/fake_apiserver.h"

namespace gpupool::testing {

inline std::unique_ptr<control::v1::Control::Stub> ControlStub(const std::string& address) {
  return control::v1::Control::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

inline std::unique_ptr<grpc::ClientContext> ControlContext(const std::string& bearer = "") {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  if (!bearer.empty()) ctx->AddMetadata("authorization", "Bearer " + bearer);
  return ctx;
}

// The flag that lets the operator's service account call the Control API.
inline const std::vector<std::string> kOperatorControlFlags = {"--control-service-account",
                                                               "gpupool:gpupool-operator"};

// A token like the chart's operator presents: audience gpupool.io, bound to the operator's pod
// (service account and pod created in `api` when missing).
inline std::string OperatorToken(FakeApiServer& api) {
  using Json = nlohmann::json;
  (void)api.Create("serviceaccounts", "gpupool", {{"metadata", {{"name", "gpupool-operator"}}}});
  (void)api.Create(
      "pods", "gpupool",
      {{"metadata", {{"name", "gpupool-operator-0"}}},
       {"spec",
        {{"serviceAccountName", "gpupool-operator"},
         {"containers", Json::array({{{"name", "operator"}, {"image", "gpupool-operator"}}})}}}});
  auto issued = api.CreateToken(
      "gpupool", "gpupool-operator",
      {{"audiences", {"gpupool.io"}},
       {"expirationSeconds", 3600},
       {"boundObjectRef", {{"kind", "Pod"}, {"apiVersion", "v1"}, {"name", "gpupool-operator-0"}}}});
  return issued.ok() ? (*issued)["status"]["token"].get<std::string>() : std::string();
}

inline control::v1::AdmitRequest AdmitRequest(const std::string& uid, const std::string& gpu,
                                              std::uint32_t percent, std::uint64_t memory,
                                              const std::string& ns = "ns", const std::string& name = "") {
  control::v1::AdmitRequest req;
  req.set_pod_uid(uid);
  req.set_pod_namespace(ns);
  req.set_pod_name(name.empty() ? "pod-" + uid : name);
  auto* share = req.add_shares();
  share->set_gpu_uuid(gpu);
  share->set_percent(percent);
  share->set_memory_bytes(memory);
  return req;
}

}  // namespace gpupool::testing
