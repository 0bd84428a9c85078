#include "operator/flags.h"

#include <catch2/catch.hpp>

namespace gpupool {
namespace {

TEST_CASE("flags: what the chart passes") {
  auto f = ParseOperatorFlags({"--leader-elect=true", "--leader-election-lease=rel-gpupool-operator",
                               "--webhook-listen=0.0.0.0:9443", "--webhook-configuration=rel-gpupool",
                               "--webhook-service=rel-gpupool-operator", "--webhook-tls-secret=rel-tls",
                               "--metrics-listen=0.0.0.0:8080", "--server-unhealthy-after-seconds=20"});
  REQUIRE(f.ok());
  CHECK(f->leader_elect);
  CHECK(f->leader_election_lease == "rel-gpupool-operator");
  CHECK(f->webhook_tls_secret == "rel-tls");
  CHECK(f->webhook_configuration == "rel-gpupool");
  CHECK(f->metrics_listen == "0.0.0.0:8080");
  CHECK(f->server_unhealthy_after_s == 20);
  auto g =
      ParseOperatorFlags({"--kubeconfig", "/k", "--leader-elect=false", "--binder-workers", "8",
                          "--server-unhealthy-after-seconds", "45", "--server-tls-ca-file=/ca.crt",
                          "--server-tls-server-name", "gpupool-server", "--server-token-file", "/token"});
  REQUIRE(g.ok());
  CHECK(g->server_tls_ca_file == "/ca.crt");
  CHECK(g->server_tls_server_name == "gpupool-server");
  CHECK(g->server_token_file == "/token");
  CHECK(g->server_unhealthy_after_s == 45);
  CHECK(g->kubeconfig == "/k");
  CHECK_FALSE(g->leader_elect);
  CHECK(g->binder_workers == 8);
}

TEST_CASE("flags: bad input is an error naming the flag") {
  struct Row {
    std::vector<std::string> args;
    const char* message;
  };
  const std::vector<Row> rows = {
      {{"--nope"}, "unknown flag --nope"},
      {{"--kubeconfig"}, "--kubeconfig needs a value"},
      {{"--leader-elect=maybe"}, "is not true or false"},
      {{"--binder-workers=0"}, "--binder-workers: \"0\" is not an integer >= 1"},
      {{"--probe-interval-seconds=x"}, "--probe-interval-seconds"},
      {{"--server-unhealthy-after-seconds=0"},
       "--server-unhealthy-after-seconds: \"0\" is not an integer >= 1"},
      {{"--webhook-cert-dir=/d", "--webhook-tls-secret=s"}, "exclude each other"},
  };
  for (const Row& row : rows) {
    auto f = ParseOperatorFlags(row.args);
    REQUIRE_FALSE(f.ok());
    CHECK_THAT(f.status().message(), Catch::Contains(row.message));
  }
}

}  // namespace
}  // namespace gpupool
