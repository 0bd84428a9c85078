#include "cli/server_flags.h"

#include <cstdlib>

#include "common/endpoint.h"
#include "common/units.h"

namespace gpupool::cli {
namespace {

// Splits on commas and whitespace, dropping empty pieces.
std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  for (char c : text) {
    if (c == ',' || c == ' ' || c == '\t' || c == '\n') {
      if (!current.empty()) out.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) out.push_back(current);
  return out;
}

Result<std::vector<ServerTarget>> TargetsFromEnv(const std::string& variable, const std::string& value) {
  std::vector<ServerTarget> out;
  for (const std::string& address : SplitList(value)) {
    auto target = TargetFromServerAddress(address);
    if (!target.ok()) return Status::InvalidArgument(variable + ": " + target.status().message());
    out.push_back(*target);
  }
  if (out.empty()) return Status::InvalidArgument(variable + " is set but names no server");
  return out;
}

}  // namespace

std::string ProcessEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v == nullptr ? std::string() : std::string(v);
}

Result<bool> TakeFlagValue(const std::vector<std::string>& args, std::size_t* i, const std::string& name,
                           std::string* value) {
  const std::string& arg = args[*i];
  if (arg == name) {
    if (*i + 1 >= args.size()) return Status::InvalidArgument(name + " needs a value");
    *value = args[*i + 1];
    *i += 2;
    return true;
  }
  if (arg.rfind(name + "=", 0) == 0) {
    *value = arg.substr(name.size() + 1);
    *i += 1;
    return true;
  }
  return false;
}

Result<ServerTarget> TargetFromServerAddress(const std::string& address) {
  // A bare host name means the default data port, as `gpupool run --server gpu-01` does.
  const bool bare_host = !address.empty() && address.find(':') == std::string::npos;
  GPUPOOL_ASSIGN_OR_RETURN(
      Endpoint ep, ParseEndpoint(bare_host ? address + ":" + std::to_string(kDefaultDataPort) : address));
  if (ep.kind == Endpoint::Kind::kUnix) {
    return Status::InvalidArgument("address \"" + address +
                                   "\" is a unix socket, which has no Control port: name the Control "
                                   "endpoint with --control unix:PATH");
  }
  if (ep.port == 65535) {
    return Status::InvalidArgument("address \"" + address +
                                   "\": the Control port would be 65536; use --control HOST:PORT");
  }
  Endpoint control = ep;
  control.port = static_cast<std::uint16_t>(ep.port + 1);
  return ServerTarget{address, control.ToString()};
}

Result<ServerTarget> TargetFromControlAddress(const std::string& address) {
  GPUPOOL_ASSIGN_OR_RETURN(Endpoint ep, ParseEndpoint(address));
  return ServerTarget{address, ep.ToString()};
}

Result<ServerFlags> ParseServerFlags(const std::vector<std::string>& args, const ExtraFlag& extra,
                                     const EnvLookup& env) {
  ServerFlags flags;
  std::size_t i = 0;
  while (i < args.size()) {
    const std::string& arg = args[i];
    std::string value;
    if (arg == "--help" || arg == "-h") {
      flags.help = true;
      ++i;
      continue;
    }
    if (arg == "--json") {
      flags.json = true;
      ++i;
      continue;
    }
    GPUPOOL_ASSIGN_OR_RETURN(bool is_server, TakeFlagValue(args, &i, "--server", &value));
    if (is_server) {
      GPUPOOL_ASSIGN_OR_RETURN(ServerTarget t, TargetFromServerAddress(value));
      flags.servers.push_back(t);
      continue;
    }
    GPUPOOL_ASSIGN_OR_RETURN(bool is_control, TakeFlagValue(args, &i, "--control", &value));
    if (is_control) {
      GPUPOOL_ASSIGN_OR_RETURN(ServerTarget t, TargetFromControlAddress(value));
      flags.servers.push_back(t);
      continue;
    }
    const std::pair<const char*, std::string*> access_flags[] = {
        {"--token-file", &flags.access.token_file},
        {"--tls-ca-file", &flags.access.tls_ca_file},
        {"--tls-server-name", &flags.access.tls_server_name},
        {"--tls-cert-file", &flags.access.tls_cert_file},
        {"--tls-key-file", &flags.access.tls_key_file}};
    bool is_access = false;
    for (const auto& [name, field] : access_flags) {
      if (is_access) break;
      GPUPOOL_ASSIGN_OR_RETURN(is_access, TakeFlagValue(args, &i, name, field));
    }
    if (is_access) continue;
    GPUPOOL_ASSIGN_OR_RETURN(bool is_timeout, TakeFlagValue(args, &i, "--timeout", &value));
    if (is_timeout) {
      auto ms = ParseDurationMs(value);
      if (!ms.ok()) return Status::InvalidArgument("--timeout: " + ms.status().message());
      if (*ms <= 0) return Status::InvalidArgument("--timeout must be more than 0");
      flags.timeout = std::chrono::milliseconds(*ms);
      continue;
    }
    if (extra) {
      GPUPOOL_RETURN_IF_ERROR(extra(args, &i));
      continue;
    }
    return Status::InvalidArgument("unknown flag \"" + arg + "\"");
  }
  const std::pair<const char*, std::string*> access_env[] = {
      {"GPUPOOL_TOKEN_FILE", &flags.access.token_file},
      {"GPUPOOL_TLS_CA_FILE", &flags.access.tls_ca_file},
      {"GPUPOOL_TLS_SERVER_NAME", &flags.access.tls_server_name}};
  for (const auto& [variable, field] : access_env) {
    if (field->empty()) *field = env(variable);
  }
  if (flags.help || !flags.servers.empty()) return flags;
  for (const char* variable : {"GPUPOOL_SERVERS", "GPUPOOL_SERVER"}) {
    const std::string value = env(variable);
    if (value.empty()) continue;
    GPUPOOL_ASSIGN_OR_RETURN(flags.servers, TargetsFromEnv(variable, value));
    return flags;
  }
  GPUPOOL_ASSIGN_OR_RETURN(ServerTarget local, TargetFromServerAddress(kDefaultServer));
  flags.servers.push_back(local);
  return flags;
}

const char* ServerFlagsHelp() {
  return "  --server HOST[:PORT] a GPU server by its data address (default port 7470); its Control API\n"
         "                       is PORT+1. Repeatable. Default: $GPUPOOL_SERVERS, $GPUPOOL_SERVER,\n"
         "                       or 127.0.0.1:7470\n"
         "  --control ADDR       a server's Control API itself (HOST:PORT or unix:PATH), for servers\n"
         "                       started with another --control-listen (repeatable)\n"
         "  --token-file FILE    the servers' token, for servers that authenticate clients\n"
         "                       (default $GPUPOOL_TOKEN_FILE)\n"
         "  --tls-ca-file FILE   servers with a certificate serve Control over TLS: the CA it must\n"
         "                       chain to (default $GPUPOOL_TLS_CA_FILE); --tls-server-name NAME\n"
         "                       the name it must carry; --tls-cert-file/--tls-key-file a client\n"
         "                       certificate, instead of a token\n"
         "  --timeout DURATION   deadline of each request to a server (default 5s)\n"
         "  --json               print JSON for scripts instead of a table\n";
}

}  // namespace gpupool::cli
