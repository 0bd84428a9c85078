// FakeApiServer: an in-process Kubernetes API server for tests (HTTP on 127.0.0.1, a free port),
// following the real semantics of k8s-api-facts.md §13 for the kinds the operator uses:
// core/v1 pods (status subresource), events; coordination.k8s.io/v1 leases; gpupool.io/v1alpha1
// gpupools (cluster-scoped, status subresource); core/v1 serviceaccounts with the token
// subresource (TokenRequest: signed JWTs bound to a pod) and authentication.k8s.io/v1 tokenreviews
// (create only) that check those tokens as a real API server does (tokens.h); core/v1 secrets and nodes
// (cluster-scoped), admissionregistration.k8s.io/v1 mutatingwebhookconfigurations (cluster-scoped); plus
// discovery (/version, /api, /apis, /api/v1, /apis/<g>/<v>) good enough for kubectl and the Python client.
//
// Semantics: one global resourceVersion; uid/creationTimestamp/generation set by the server;
// 409 Conflict on a stale PUT, 409 AlreadyExists, 404, 422 for a PUT without resourceVersion on
// leases/gpupools, Status objects for every error; list with resourceVersion, limit/continue;
// label and field selectors (metadata.name, metadata.namespace, spec.nodeName, status.phase);
// watch (JSON lines) with replay from a resourceVersion, 410 Expired after Compact(), bookmarks,
// selector transitions; merge / JSON / strategic-merge (pods) patches; status subresource
// separation; finalizers and deletionTimestamp; no-op writes keep the resourceVersion. Namespaces
// are not modelled (every namespace exists). Pods are deleted without grace (no kubelet).
//
// Thread-safety: every method may be called from any thread while the server runs.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace gpupool::testing {

class FakeApiServer {
 public:
  struct Options {
    std::chrono::milliseconds bookmark_interval{std::chrono::seconds(1)};  // for allowWatchBookmarks
    int default_watch_timeout_seconds = 1800;
  };
  using Json = nlohmann::json;

  static Result<std::unique_ptr<FakeApiServer>> Start(Options options);
  static Result<std::unique_ptr<FakeApiServer>> Start() { return Start(Options{}); }
  ~FakeApiServer();  // closes open watches and stops listening

  std::string url() const;  // "http://127.0.0.1:<port>"
  int port() const;
  // kubeconfig YAML for this server (context "fake", namespace "default", token if required).
  std::string Kubeconfig() const;

  // Direct access to the storage with the same rules as the HTTP API, without a request being
  // counted. `resource` is the plural: "pods", "events", "leases", "gpupools", "secrets", "nodes",
  // "mutatingwebhookconfigurations", "serviceaccounts".
  Result<Json> Create(const std::string& resource, const std::string& ns, Json obj);
  Result<Json> Get(const std::string& resource, const std::string& ns, const std::string& name) const;
  std::vector<Json> List(const std::string& resource, const std::string& ns = "") const;
  Result<Json> Update(const std::string& resource, Json obj);        // PUT to the object
  Result<Json> UpdateStatus(const std::string& resource, Json obj);  // PUT to /status
  // Delete as the API does it (finalizers mark, otherwise remove); returns the answer body.
  Result<Json> Delete(const std::string& resource, const std::string& ns, const std::string& name);
  long long ResourceVersion() const;  // the current global revision
  // A TokenRequest for `service_account` (POST .../serviceaccounts/NAME/token with this spec: audiences,
  // expirationSeconds, boundObjectRef) as the kubelet makes it for a projected token; the answer.
  Result<Json> CreateToken(const std::string& ns, const std::string& service_account, Json spec);
  // What the kubelet would do: sets a pod's status.phase ("Running", "Succeeded", "Failed").
  Result<Json> SetPodPhase(const std::string& ns, const std::string& name, const std::string& phase);

  // ---- Test hooks ----
  // The next `n` requests (of `verb` when not empty: get, list, watch, create, update, patch,
  // delete) fail with `http_code` and a Status body (Retry-After when retry_after_s > 0).
  void FailNextRequests(int n, int http_code, const std::string& verb = "", int retry_after_s = 0);
  // Forgets the history up to now: list/watch from an older resourceVersion -> 410 Expired.
  void Compact();
  // Ends every open watch stream without an ERROR event (as a dropped connection would).
  void DropWatches();
  size_t OpenWatches() const;
  // The next requests (of `verb` when not empty) wait `delay` before they are answered (a slow API
  // server); 0 ends it. Shutdown cuts waits short.
  void DelayRequests(std::chrono::milliseconds delay, const std::string& verb = "");
  // Moves the clock that service-account tokens are issued and checked against (expiry tests).
  void AdvanceClock(std::chrono::seconds by);
  // When set, requests without "Authorization: Bearer <token>" get 401 Unauthorized.
  void RequireToken(std::optional<std::string> token);
  // Requests served so far by verb (get, list, watch, create, update, patch, delete, discovery).
  std::map<std::string, long> RequestCounts() const;
  void ResetRequestCounts();

  class Impl;

 private:
  explicit FakeApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gpupool::testing
