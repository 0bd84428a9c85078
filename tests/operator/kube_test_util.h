// Helpers shared by the kube / leader / fake_apiserver tests: a RestClient on a FakeApiServer,
// a minimal valid pod, and waiting for a condition with a generous deadline (never a bare sleep).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/kube/rest_client.h"
#include "tests/support/fake_apiserver/fake_apiserver.h"

namespace gpupool::testing {

inline std::unique_ptr<FakeApiServer> StartFake(FakeApiServer::Options options = {}) {
  auto server = FakeApiServer::Start(options);
  if (!server.ok()) throw std::runtime_error(server.status().ToString());
  return std::move(*server);
}

inline std::unique_ptr<kube::RestClient> ClientFor(const FakeApiServer& server,
                                                   kube::RestOptions options = {}) {
  kube::ClusterConfig config;
  config.server = server.url();
  auto client = kube::RestClient::Create(config, options);
  if (!client.ok()) throw std::runtime_error(client.status().ToString());
  return std::move(*client);
}

inline nlohmann::json TestPod(const std::string& name, const std::string& ns = "default",
                              nlohmann::json labels = nlohmann::json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels}}},
          {"spec",
           {{"schedulingGates", {{{"name", "gpupool.io/binding"}}}},
            {"containers", {{{"name", "main"}, {"image", "busybox"}}}}}}};
}

// The chart's MutatingWebhookConfiguration "gpupool" for the webhook Service op.gpupool, with
// `ca_bundle` (base64) when given.
inline nlohmann::json TestWebhookConfiguration(const std::string& ca_bundle = "") {
  nlohmann::json client_config = {{"service", {{"name", "op"}, {"namespace", "gpupool"}}}};
  if (!ca_bundle.empty()) client_config["caBundle"] = ca_bundle;
  return {{"apiVersion", "admissionregistration.k8s.io/v1"},
          {"kind", "MutatingWebhookConfiguration"},
          {"metadata", {{"name", "gpupool"}}},
          {"webhooks", nlohmann::json::array({{{"name", "pods.gpupool.io"},
                                               {"admissionReviewVersions", {"v1"}},
                                               {"sideEffects", "None"},
                                               {"clientConfig", client_config}}})}};
}

// Polls `done` until it holds or `timeout` passes; the condition is the event waited for.
inline bool Eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

}  // namespace gpupool::testing
