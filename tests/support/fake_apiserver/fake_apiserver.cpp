#include "tests/support/fake_apiserver/fake_apiserver.h"

#include "tests/support/fake_apiserver/server_impl.h"

namespace gpupool::testing {

namespace {

Status ToStatus(const fake::Reply& r) {
  std::string msg = r.body.is_object() ? r.body.value("message", std::string()) : r.body.dump();
  switch (r.code) {
    case 404: return Status::NotFound(msg);
    case 409:
      return r.body.value("reason", "") == "AlreadyExists" ? Status::AlreadyExists(msg)
                                                           : Status::Conflict(msg);
    case 400:
    case 422: return Status::InvalidArgument(msg);
    default: return Status::Internal(std::to_string(r.code) + ": " + msg);
  }
}

Result<nlohmann::json> ToResult(fake::Reply r) {
  if (!r.ok()) return ToStatus(r);
  return std::move(r.body);
}

}  // namespace

Result<std::unique_ptr<FakeApiServer>> FakeApiServer::Start(Options options) {
  auto impl = std::make_unique<Impl>(options);
  if (Status s = impl->Listen(); !s.ok()) {
    return Status::Unavailable("fake API server could not listen on 127.0.0.1: " + s.message());
  }
  return std::unique_ptr<FakeApiServer>(new FakeApiServer(std::move(impl)));
}

FakeApiServer::FakeApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FakeApiServer::~FakeApiServer() {
  impl_->Shutdown();
}

std::string FakeApiServer::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port());
}
int FakeApiServer::port() const {
  return impl_->port();
}

std::string FakeApiServer::Kubeconfig() const {
  std::string token = impl_->RequiredToken();
  return "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
         "clusters:\n- name: fake\n  cluster:\n    server: " +
         url() +
         "\n"
         "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\n"
         "users:\n- name: fake\n  user:\n" +
         (token.empty() ? std::string("    {}\n") : "    token: " + token + "\n");
}

using Json = nlohmann::json;

Result<Json> FakeApiServer::Create(const std::string& resource, const std::string& ns, Json obj) {
  GPUPOOL_ASSIGN_OR_RETURN(const fake::KindInfo* k, impl_->Kind(resource));
  return ToResult(impl_->storage().Create(*k, ns, std::move(obj)));
}

Result<Json> FakeApiServer::Get(const std::string& resource, const std::string& ns,
                                const std::string& name) const {
  GPUPOOL_ASSIGN_OR_RETURN(const fake::KindInfo* k, impl_->Kind(resource));
  return ToResult(impl_->storage().Get(*k, ns, name));
}

std::vector<Json> FakeApiServer::List(const std::string& resource, const std::string& ns) const {
  auto k = impl_->Kind(resource);
  if (!k.ok()) return {};
  fake::Filter filter{ns, {}, {}};
  fake::Reply r = impl_->storage().List(**k, filter, {});
  std::vector<Json> out;
  if (r.ok()) {
    for (const auto& item : r.body["items"]) out.push_back(item);
  }
  return out;
}

Result<Json> FakeApiServer::Update(const std::string& resource, Json obj) {
  GPUPOOL_ASSIGN_OR_RETURN(const fake::KindInfo* k, impl_->Kind(resource));
  std::string ns = fake::Str(obj, "metadata", "namespace"), name = fake::Str(obj, "metadata", "name");
  return ToResult(impl_->storage().Update(*k, ns, name, std::move(obj), false));
}

Result<Json> FakeApiServer::UpdateStatus(const std::string& resource, Json obj) {
  GPUPOOL_ASSIGN_OR_RETURN(const fake::KindInfo* k, impl_->Kind(resource));
  std::string ns = fake::Str(obj, "metadata", "namespace"), name = fake::Str(obj, "metadata", "name");
  return ToResult(impl_->storage().Update(*k, ns, name, std::move(obj), true));
}

Result<Json> FakeApiServer::Delete(const std::string& resource, const std::string& ns,
                                   const std::string& name) {
  GPUPOOL_ASSIGN_OR_RETURN(const fake::KindInfo* k, impl_->Kind(resource));
  return ToResult(impl_->storage().Delete(*k, ns, name, nullptr));
}

Result<Json> FakeApiServer::SetPodPhase(const std::string& ns, const std::string& name,
                                        const std::string& phase) {
  GPUPOOL_ASSIGN_OR_RETURN(Json pod, Get("pods", ns, name));
  pod["status"]["phase"] = phase;
  return UpdateStatus("pods", std::move(pod));
}

long long FakeApiServer::ResourceVersion() const {
  return impl_->storage().ResourceVersion();
}
void FakeApiServer::FailNextRequests(int n, int http_code, const std::string& verb, int retry_after_s) {
  impl_->FailNext(n, http_code, verb, retry_after_s);
}
void FakeApiServer::Compact() {
  impl_->storage().Compact();
}
void FakeApiServer::DropWatches() {
  impl_->storage().CloseWatches();
}
size_t FakeApiServer::OpenWatches() const {
  return impl_->storage().OpenWatches();
}
Result<nlohmann::json> FakeApiServer::CreateToken(const std::string& ns, const std::string& service_account,
                                                  Json spec) {
  const Json body = {
      {"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenRequest"}, {"spec", std::move(spec)}};
  return ToResult(impl_->tokens().Request(impl_->storage(), ns, service_account, body));
}

void FakeApiServer::DelayRequests(std::chrono::milliseconds delay, const std::string& verb) {
  impl_->Delay(delay, verb);
}

void FakeApiServer::AdvanceClock(std::chrono::seconds by) {
  impl_->tokens().Advance(by);
}
void FakeApiServer::RequireToken(std::optional<std::string> token) {
  impl_->RequireToken(std::move(token));
}
std::map<std::string, long> FakeApiServer::RequestCounts() const {
  return impl_->Counts();
}
void FakeApiServer::ResetRequestCounts() {
  impl_->ResetCounts();
}

}  // namespace gpupool::testing
