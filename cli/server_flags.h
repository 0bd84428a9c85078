// Flags shared by the subcommands that ask GPU servers' Control API about themselves (`servers`, `top`):
// which servers, how long to wait for each, and whether to print JSON.
//
// A server is named by its data address HOST[:PORT] (port 7470 when omitted), the same address `gpupool run
// --server`, the GPUPool's spec.servers and the binding annotation use; its Control API listens on PORT+1
// (the server's default --control-listen). A server started with another --control-listen is reached with
// `--control HOST:PORT`, which names the Control endpoint itself.
//
// Precedence: --server/--control flags, then GPUPOOL_SERVERS (comma- or space-separated), then
// GPUPOOL_SERVER, then 127.0.0.1:7470 (the server `gpupool run` starts locally).
//
// Servers that authenticate clients want their token (--token-file) or a client certificate on the
// Control API too, and a server with a certificate serves Control over TLS (--tls-ca-file).
//
// Thread-safety: pure functions over values.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/control/control_channel.h"
#include "common/status.h"

namespace gpupool::cli {

inline constexpr int kDefaultDataPort = 7470;
inline constexpr const char* kDefaultServer = "127.0.0.1:7470";

// One server to ask.
struct ServerTarget {
  std::string name;     // as the user wrote it ("gpu-01:7470"), shown in output
  std::string control;  // gRPC target of its Control API ("gpu-01:7471", "unix:/run/c.sock")
};

struct ServerFlags {
  std::vector<ServerTarget> servers;
  // TLS and the server's token: --tls-ca-file, --tls-server-name, --tls-cert-file, --tls-key-file,
  // --token-file; defaults from GPUPOOL_TLS_CA_FILE, GPUPOOL_TLS_SERVER_NAME, GPUPOOL_TOKEN_FILE (as
  // for `gpupool run`).
  control::ControlAccess access;
  std::chrono::milliseconds timeout{5000};  // deadline of every RPC
  bool json = false;
  bool help = false;
};

// Reads an environment variable; empty when unset. Injected so tests and callers control it.
using EnvLookup = std::function<std::string(const std::string&)>;
std::string ProcessEnv(const std::string& name);

// Parses the shared flags out of `args`. Flags it does not know are handed to `extra` with their
// position: `extra(args, &i)` returns OK after consuming args[i] (and any value, advancing i), or an
// error (an unknown flag is InvalidArgument naming it). Every error is a usage error (exit 2).
using ExtraFlag = std::function<Status(const std::vector<std::string>& args, std::size_t* i)>;
Result<ServerFlags> ParseServerFlags(const std::vector<std::string>& args, const ExtraFlag& extra,
                                     const EnvLookup& env = ProcessEnv);

// For `extra` handlers: if args[*i] is `--name VALUE` or `--name=VALUE`, stores VALUE, advances *i
// past it and returns true; a missing value is an error.
Result<bool> TakeFlagValue(const std::vector<std::string>& args, std::size_t* i, const std::string& name,
                           std::string* value);

// "gpu-01:7470" -> its Control target "gpu-01:7471". Errors name the input.
Result<ServerTarget> TargetFromServerAddress(const std::string& address);
// "gpu-01:9000" or "unix:/path" -> the Control target itself.
Result<ServerTarget> TargetFromControlAddress(const std::string& address);

// The help text block describing the shared flags, for each command's --help.
const char* ServerFlagsHelp();

}  // namespace gpupool::cli
