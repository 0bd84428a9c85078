// The webhook over real HTTPS: a client that trusts only the generated CA posts AdmissionReviews.
#include <cpprest/http_client.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "operator/http/server.h"
#include "operator/webhook/catalog.h"
#include "operator/webhook/handler.h"
#include "operator/webhook/tls.h"
#include "tests/support/process.h"

namespace gpupool::webhook {
namespace {

using nlohmann::json;
namespace wh = web::http;

http::ServerOptions Plain(const std::string& listen) {
  http::ServerOptions o;
  o.listen = listen;
  return o;
}

http::ServerOptions Tls(const TlsMaterial& tls) {
  http::ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.tls = http::ServerTls{tls.cert_pem, tls.key_pem};
  return o;
}

struct Answer {
  int code;
  std::string body;
};

Answer Post(int port, const std::string& ca_pem, const std::string& path, const std::string& body) {
  wh::client::http_client_config config;
  config.set_timeout(std::chrono::seconds(20));
  config.set_ssl_context_callback([ca_pem](boost::asio::ssl::context& ctx) {
    ctx.add_certificate_authority(boost::asio::buffer(ca_pem));
  });
  wh::client::http_client client("https://127.0.0.1:" + std::to_string(port), config);
  wh::http_request req(wh::methods::POST);
  req.set_request_uri(path);
  req.set_body(body, "application/json");
  wh::http_response resp = client.request(req).get();
  return {resp.status_code(), resp.extract_string(true).get()};
}

TEST_CASE("https: AdmissionReview round trip with a generated certificate") {
  auto tls = GenerateTls({"127.0.0.1", "gpupool-operator.gpupool.svc"});
  REQUIRE(tls.ok());
  REQUIRE(CheckKeyMatches(tls->cert_pem, tls->key_pem).ok());
  GpuPoolCatalog pools([] { return std::vector<json>{}; });
  std::mutex mu;
  std::vector<std::string> results;
  auto server = http::HttpServer::Start(Tls(*tls), MakeHandler(pools, [&](const std::string& r) {
                                          std::lock_guard lock(mu);
                                          results.push_back(r);
                                        }));
  REQUIRE(server.ok());

  json review = {
      {"apiVersion", "admission.k8s.io/v1"},
      {"kind", "AdmissionReview"},
      {"request",
       {{"uid", "u-1"},
        {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
        {"operation", "CREATE"},
        {"object",
         {{"spec",
           {{"containers",
             json::array({{{"name", "c"}, {"resources", {{"limits", {{"gpupool.io/gpu", "1"}}}}}}})}}}}}}}};
  Answer ok = Post((*server)->port(), tls->ca_pem, "/mutate-pods", review.dump());
  CHECK(ok.code == 200);
  const json answer = json::parse(ok.body);
  CHECK(answer["response"]["uid"] == "u-1");
  CHECK(answer["response"]["allowed"] == true);
  CHECK(answer["response"]["patchType"] == "JSONPatch");

  review["request"]["object"]["spec"]["containers"][0]["resources"]["limits"]["gpupool.io/gpu-percent"] = "0";
  const json refused = json::parse(Post((*server)->port(), tls->ca_pem, "/mutate-pods", review.dump()).body);
  CHECK(refused["response"]["allowed"] == false);
  CHECK_THAT(refused["response"]["status"]["message"].get<std::string>(), Catch::Contains("must be 1..100"));

  CHECK(Post((*server)->port(), tls->ca_pem, "/mutate-pods", "{not json").code == 400);
  CHECK(Post((*server)->port(), tls->ca_pem, "/mutate-pods", "{}").code == 400);
  CHECK(Post((*server)->port(), tls->ca_pem, "/other", "{}").code == 404);
  std::lock_guard lock(mu);
  CHECK(results == std::vector<std::string>{"mutated", "refused", "error", "error"});
}

TEST_CASE("https: a client that does not trust the CA is refused") {
  auto tls = GenerateTls({"127.0.0.1"});
  auto other = GenerateTls({"127.0.0.1"});
  REQUIRE(tls.ok());
  REQUIRE(other.ok());
  GpuPoolCatalog pools([] { return std::vector<json>{}; });
  auto server = http::HttpServer::Start(Tls(*tls), MakeHandler(pools));
  REQUIRE(server.ok());
  CHECK_THROWS(Post((*server)->port(), other->ca_pem, "/mutate-pods", "{}"));
}

TEST_CASE("tls: certificates from a directory") {
  testing::TempDir dir;
  auto tls = GenerateTls({"svc.ns.svc"});
  REQUIRE(tls.ok());
  std::ofstream(dir.File("tls.crt")) << tls->cert_pem;
  std::ofstream(dir.File("tls.key")) << tls->key_pem;
  std::ofstream(dir.File("ca.crt")) << tls->ca_pem;
  auto loaded = LoadTlsDir(dir.path());
  REQUIRE(loaded.ok());
  CHECK(loaded->cert_pem == tls->cert_pem);
  CHECK(loaded->ca_pem == tls->ca_pem);

  auto other = GenerateTls({"svc.ns.svc"});
  std::ofstream(dir.File("tls.key")) << other->key_pem;
  auto mismatched = LoadTlsDir(dir.path());
  CHECK(mismatched.status().code() == Code::kInvalidArgument);
  CHECK_THAT(mismatched.status().message(), Catch::Contains("does not belong to the certificate"));
  CHECK(LoadTlsDir(dir.File("missing")).status().code() == Code::kNotFound);
  CHECK(GenerateTls({}).status().code() == Code::kInvalidArgument);
  CHECK(ServiceDnsNames("op", "gp") == std::vector<std::string>{"op.gp.svc", "op.gp.svc.cluster.local"});
}

TEST_CASE("tls: lifetimes, renewal reasons, and certificates reissued from the same CA") {
  using std::chrono::hours;
  const auto now = std::chrono::system_clock::now();
  const std::vector<std::string> names = {"svc.ns.svc", "10.0.0.1"};
  auto made = GenerateTls(names);
  REQUIRE(made.ok());
  CHECK_FALSE(made->ca_key_pem.empty());
  auto ends = CertificateNotAfter(made->cert_pem);
  auto ca_ends = CertificateNotAfter(made->ca_pem);
  REQUIRE(ends.ok());
  REQUIRE(ca_ends.ok());
  CHECK(*ends - now > kServingValidity - hours(2));
  CHECK(*ends - now < kServingValidity + hours(2));
  CHECK(*ca_ends - now > kCaValidity - hours(2));

  CHECK(RenewalReason(*made, names, now).empty());
  CHECK_THAT(RenewalReason(*made, {"svc.ns.svc", "other.ns.svc"}, now),
             Catch::Equals("the certificate does not name other.ns.svc"));
  CHECK_THAT(RenewalReason(*made, names, now + kServingValidity - kRenewBefore + hours(1)),
             Catch::StartsWith("the certificate ends at "));
  CHECK_THAT(RenewalReason(*made, names, now + kServingValidity + hours(1)),
             Catch::StartsWith("the certificate ended at "));
  CHECK(RenewalReason({}, names, now) == "the certificate does not parse");

  auto reissued = ReissueTls(*made, {"svc.ns.svc", "other.ns.svc"}, hours(48));
  REQUIRE(reissued.ok());
  CHECK(reissued->ca_pem == made->ca_pem);
  CHECK(reissued->ca_key_pem == made->ca_key_pem);
  CHECK(reissued->cert_pem != made->cert_pem);
  CHECK(CheckKeyMatches(reissued->cert_pem, reissued->key_pem).ok());
  CHECK(RenewalReason(*reissued, {"other.ns.svc"}, now - kRenewBefore).empty());
  CHECK_THAT(RenewalReason(*reissued, {"other.ns.svc"}, now), Catch::StartsWith("the certificate ends at "));

  TlsMaterial no_key = *made;
  no_key.ca_key_pem.clear();
  CHECK(ReissueTls(no_key, names).status().code() == Code::kInvalidArgument);
  auto other = GenerateTls(names);
  REQUIRE(other.ok());
  TlsMaterial wrong_key = *made;
  wrong_key.ca_key_pem = other->ca_key_pem;
  CHECK_THAT(ReissueTls(wrong_key, names).status().message(), Catch::Contains("does not belong"));
}

TEST_CASE("https: a listen address that cannot be used is an error") {
  auto tls = GenerateTls({"127.0.0.1"});
  GpuPoolCatalog pools([] { return std::vector<json>{}; });
  CHECK(http::HttpServer::Start(Plain("not an address"), MakeHandler(pools)).status().code() ==
        Code::kInvalidArgument);
  auto first = http::HttpServer::Start(Plain("127.0.0.1:0"), MakeHandler(pools));
  REQUIRE(first.ok());
  auto second =
      http::HttpServer::Start(Plain("127.0.0.1:" + std::to_string((*first)->port())), MakeHandler(pools));
  CHECK(second.status().code() == Code::kUnavailable);
}

}  // namespace
}  // namespace gpupool::webhook
