#include "cli/server_flags.h"

#include <catch2/catch.hpp>
#include <map>

namespace gpupool::cli {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) {
    auto it = vars.find(name);
    return it == vars.end() ? std::string() : it->second;
  };
}

std::vector<std::string> Controls(const ServerFlags& flags) {
  std::vector<std::string> out;
  for (const auto& s : flags.servers) out.push_back(s.control);
  return out;
}

}  // namespace

TEST_CASE("server flags: where the servers come from", "[server_flags]") {
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::vector<std::string> controls;
  };
  const std::vector<Case> cases = {
      {{}, {}, {"127.0.0.1:7471"}},
      {{"--server", "gpu-01:7470"}, {}, {"gpu-01:7471"}},
      {{"--server=gpu-01"}, {}, {"gpu-01:7471"}},
      {{"--server", "[fd00::1]:9000"}, {}, {"[fd00::1]:9001"}},
      {{"--control", "gpu-01:9999", "--server", "gpu-02:7470"}, {}, {"gpu-01:9999", "gpu-02:7471"}},
      {{"--control", "unix:/run/gpupool/control.sock"}, {}, {"unix:/run/gpupool/control.sock"}},
      {{}, {{"GPUPOOL_SERVERS", "a:7470, b:8000 c"}}, {"a:7471", "b:8001", "c:7471"}},
      {{}, {{"GPUPOOL_SERVER", "a:7470"}}, {"a:7471"}},
      {{}, {{"GPUPOOL_SERVERS", "a:7470"}, {"GPUPOOL_SERVER", "b:7470"}}, {"a:7471"}},
      {{"--server", "x:1"}, {{"GPUPOOL_SERVERS", "a:7470"}}, {"x:2"}},
  };
  for (const Case& c : cases) {
    INFO(c.args.size() << " args, first: " << (c.args.empty() ? "" : c.args.front()));
    auto flags = ParseServerFlags(c.args, nullptr, FakeEnv(c.env));
    REQUIRE(flags.ok());
    CHECK(Controls(*flags) == c.controls);
  }
}

TEST_CASE("server flags: malformed input is refused with a message naming it", "[server_flags]") {
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {{"--server", "gpu-01:http"}, {}, "\"gpu-01:http\" has an invalid port"},
      {{"--server", "gpu-01:70000"}, {}, "\"gpu-01:70000\" has an invalid port"},
      {{"--server", ":7470"}, {}, "empty host"},
      {{"--server", "gpu-01:65535"}, {}, "65536"},
      {{"--server", "unix:/run/x.sock"}, {}, "--control unix:PATH"},
      {{"--server"}, {}, "--server needs a value"},
      {{"--control", "nohostport"}, {}, "\"nohostport\" is not HOST:PORT"},
      {{"--timeout", "5"}, {}, "needs a unit"},
      {{"--timeout", "0s"}, {}, "more than 0"},
      {{"--frobnicate"}, {}, "unknown flag \"--frobnicate\""},
      {{}, {{"GPUPOOL_SERVERS", "a:7470,b:x"}}, "GPUPOOL_SERVERS: address \"b:x\""},
      {{}, {{"GPUPOOL_SERVERS", " , "}}, "GPUPOOL_SERVERS is set but names no server"},
  };
  for (const Case& c : cases) {
    auto flags = ParseServerFlags(c.args, nullptr, FakeEnv(c.env));
    REQUIRE_FALSE(flags.ok());
    CHECK(flags.status().code() == Code::kInvalidArgument);
    CHECK_THAT(flags.status().message(), Catch::Contains(c.message_part));
  }
}

TEST_CASE("server flags: unknown flags go to the command's own handler", "[server_flags]") {
  int seen = 0;
  auto flags = ParseServerFlags(
      {"--json", "--wide", "--timeout=250ms"},
      [&seen](const std::vector<std::string>& a, std::size_t* i) {
        if (a[*i] != "--wide") return Status::InvalidArgument("unknown " + a[*i]);
        ++seen;
        ++*i;
        return Status::Ok();
      },
      FakeEnv({}));
  REQUIRE(flags.ok());
  CHECK(seen == 1);
  CHECK(flags->json);
  CHECK(flags->timeout == std::chrono::milliseconds(250));
}

}  // namespace gpupool::cli

namespace gpupool::cli {
namespace {

TEST_CASE("server flags: TLS and the token for the Control API, from flags or the environment",
          "[server_flags]") {
  auto flags = ParseServerFlags({"--token-file", "/t", "--tls-ca-file=/ca", "--tls-server-name",
                                 "gpu.example", "--tls-cert-file", "/c", "--tls-key-file", "/k"},
                                nullptr, FakeEnv({{"GPUPOOL_TOKEN_FILE", "/env-token"}}));
  REQUIRE(flags.ok());
  CHECK(flags->access.token_file == "/t");
  CHECK(flags->access.tls_ca_file == "/ca");
  CHECK(flags->access.tls_server_name == "gpu.example");
  CHECK(flags->access.tls_cert_file == "/c");
  CHECK(flags->access.tls_key_file == "/k");
  auto from_env = ParseServerFlags({}, nullptr,
                                   FakeEnv({{"GPUPOOL_TOKEN_FILE", "/env-token"},
                                            {"GPUPOOL_TLS_CA_FILE", "/env-ca"},
                                            {"GPUPOOL_TLS_SERVER_NAME", "env.example"}}));
  REQUIRE(from_env.ok());
  CHECK(from_env->access.token_file == "/env-token");
  CHECK(from_env->access.tls_ca_file == "/env-ca");
  CHECK(from_env->access.tls_server_name == "env.example");
  CHECK_FALSE(ParseServerFlags({"--token-file"}, nullptr, FakeEnv({})).ok());
}

}  // namespace
}  // namespace gpupool::cli
